"""Settings of the newsletter and the chat/social channels, built once by `newsdesk.config`."""
from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

SMTP_SCHEMES = {"smtp": "starttls-if-offered", "smtp+starttls": "starttls", "smtps": "tls", "smtp+plain": "plain"}
DEFAULT_PORTS = {"starttls-if-offered": 25, "starttls": 587, "tls": 465, "plain": 25}


@dataclass(frozen=True)
class SmtpSettings:
    """Where mail goes: parsed from NEWSDESK_SMTP_URL, e.g. smtp+starttls://user:pass@mail.example.org:587."""

    host: str
    port: int
    security: str = "starttls-if-offered"  # starttls-if-offered | starttls | tls | plain
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    tls_context: ssl.SSLContext | None = None  # None: the system's trust store

    def describe(self) -> str:
        who = f"{self.username}@" if self.username else ""
        return f"{who}{self.host}:{self.port} ({self.security})"


def parse_smtp_url(raw: str) -> SmtpSettings:
    """smtp:// (STARTTLS when offered), smtp+starttls:// (required), smtps:// (TLS from the start), smtp+plain://."""
    parts = urlsplit(raw.strip())
    security = SMTP_SCHEMES.get(parts.scheme.lower())
    if security is None:
        raise ValueError(f"NEWSDESK_SMTP_URL must start with one of {', '.join(s + '://' for s in SMTP_SCHEMES)}, not {raw.split(':', 1)[0]!r}")
    if not parts.hostname:
        raise ValueError("NEWSDESK_SMTP_URL has no host")
    try:
        port = parts.port or DEFAULT_PORTS[security]
    except ValueError:
        raise ValueError("NEWSDESK_SMTP_URL has a bad port") from None
    query = parse_qs(parts.query)
    try:
        timeout = float(query.get("timeout", ["30"])[0])
    except ValueError:
        raise ValueError("NEWSDESK_SMTP_URL: timeout must be a number of seconds") from None
    return SmtpSettings(host=parts.hostname, port=port, security=security,
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None, timeout=timeout)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_public_url(raw: str, name: str) -> str:
    """The desk's public address: HTTPS (RFC 8058 wants an HTTPS unsubscribe link); plain HTTP only on loopback."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{name} must be an https:// URL, not {raw!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{name} must use https:// (unsubscribe links must be HTTPS); http:// is accepted for loopback only")
    return raw.strip().rstrip("/")


@dataclass(frozen=True)
class EmailSettings:
    smtp: SmtpSettings | None = None
    from_addr: str | None = None  # "AI News Digest <digest@example.org>"
    reply_to: str | None = None
    desk_url: str | None = None  # public base URL of the desk: unsubscribe and confirmation links
    unsubscribe_mailto: str | None = None  # default: the From address
    rate_per_second: float = 5.0  # the cap: at most this many messages a second
    max_retries: int = 3  # per message, on 4xx answers and dropped connections
    backoff_seconds: float = 2.0  # first wait; doubles each retry
    lease_seconds: float = 600.0  # a claim older than this from a dead sender may be taken over
    subscribe_form: bool = True  # the public form (it also needs SMTP and desk_url)
    confirm_max_age: int = 2 * 24 * 3600  # the double opt-in link expires after this many seconds

    @property
    def configured(self) -> bool:
        return bool(self.smtp and self.from_addr and self.desk_url)

    def missing(self) -> list[str]:
        names = []
        if not self.smtp:
            names.append("NEWSDESK_SMTP_URL")
        if not self.from_addr:
            names.append("NEWSDESK_EMAIL_FROM")
        if not self.desk_url:
            names.append("NEWSDESK_PUBLIC_URL")
        return names


@dataclass(frozen=True)
class ChannelSettings:
    """Chat and social accounts; each `*_base_url` points a channel at another host (self-hosted, tests)."""

    discord_webhook_url: str | None = None
    telegram_bot_token: str | None = None
    telegram_chat_id: str | None = None  # "@channelname" or a numeric id
    telegram_base_url: str = "https://api.telegram.org"
    mastodon_base_url: str | None = None  # the instance, e.g. https://mastodon.social
    mastodon_token: str | None = None
    mastodon_max_chars: int = 500
    mastodon_visibility: str = "public"
    bluesky_handle: str | None = None
    bluesky_app_password: str | None = None
    bluesky_base_url: str = "https://bsky.social"  # the account's PDS
    max_retries: int = 3
    backoff_seconds: float = 2.0
    max_wait_seconds: float = 120.0  # a 429 asking for longer defers the post to the next run
    timeout: float = 20.0

    def configured(self) -> list[str]:
        """The channels with everything they need, in a fixed order."""
        out = []
        if self.discord_webhook_url:
            out.append("discord")
        if self.telegram_bot_token and self.telegram_chat_id:
            out.append("telegram")
        if self.mastodon_base_url and self.mastodon_token:
            out.append("mastodon")
        if self.bluesky_handle and self.bluesky_app_password:
            out.append("bluesky")
        return out


@dataclass(frozen=True)
class DeliverySettings:
    email: EmailSettings = field(default_factory=EmailSettings)
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    site_url: str | None = None  # where the published day pages live (links in mails and posts)
