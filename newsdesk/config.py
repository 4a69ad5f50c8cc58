"""Configuration, read once at the top (CLI or flow) and passed down.

Every setting has a default that works on a fresh machine; the environment
(or a `.env`-style shell export) overrides it. Lower layers never read the
environment: they receive the settings objects built here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from extractors.http import HttpSettings
from extractors.netguard import LOOPBACK
from review.delivery.settings import ChannelSettings, DeliverySettings, EmailSettings, check_public_url, parse_smtp_url

REPO_ROOT = Path(__file__).resolve().parents[1]
STYLES = ("awesome-ai-daily", "ai-news-digest")
STAGES = ("collect", "extract", "cluster", "draft", "queue")


class ConfigError(ValueError):
    """A setting that cannot be used, with a message naming the variable."""


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsdesk"


def _bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _private_hosts(env: Mapping[str, str]) -> bool | str:
    """NEWSDESK_ALLOW_PRIVATE_HOSTS: false (public only), true (private too) or loopback (127.0.0.0/8 and ::1 only)."""
    raw = (env.get("NEWSDESK_ALLOW_PRIVATE_HOSTS") or "").strip().lower()
    if raw == LOOPBACK:
        return LOOPBACK
    try:
        return _bool(env, "NEWSDESK_ALLOW_PRIVATE_HOSTS")
    except ConfigError:
        raise ConfigError(f"NEWSDESK_ALLOW_PRIVATE_HOSTS must be true, false or loopback, not {raw!r}") from None


def _proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """NEWSDESK_TRUSTED_PROXIES: addresses or CIDR ranges, separated by commas or spaces; none by default."""
    import ipaddress

    raw = env.get("NEWSDESK_TRUSTED_PROXIES") or ""
    values = tuple(v for v in raw.replace(",", " ").split() if v)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(f"NEWSDESK_TRUSTED_PROXIES: {value!r} is not an IP address or range (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
    return values


def _number(env: Mapping[str, str], name: str, default: float | None, kind: type = float) -> float | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


@dataclass(frozen=True)
class LLMConfig:
    api_key: str | None
    base_url: str | None
    model: str
    concurrency: int = 16  # a server the probe finds serial gets 1
    max_tokens_per_night: int | None = None
    max_usd_per_night: float | None = None
    input_token_budget: int = 6000
    timeout: float = 60.0
    max_retries: int = 2
    prices: dict[str, tuple[float, float, float]] | None = None  # USD per million tokens: input, output, cached
    context_tokens: int | None = None  # the model's context window, when /v1/models does not tell it
    mode: str | None = None  # force a structured-output mode instead of the probed one

    @property
    def configured(self) -> bool:
        return bool(self.api_key or self.base_url)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    sources_file: Path
    prompts_dir: Path
    publish_dir: Path
    timezone: str = "UTC"
    day_cutoff: time = time(6, 0)
    style: str = "awesome-ai-daily"
    max_stories: int = 12
    flag_after: int = 3
    thread_days: int = 14  # a story joins its predecessor's thread when that is at most this many days older
    x_bearer_token: str | None = None
    site_url: str | None = None
    webhook_url: str | None = None
    secret_key: str | None = None
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies whose X-Forwarded-For the desk believes
    lock_wait: float = 0.0  # seconds a run waits for another run of the same day before giving up
    extract_batch: int = 100  # pages in flight at once (fetched, extracted, being saved): a kill loses at most these
    dask_address: str | None = None  # a Dask scheduler: collect and extract batches run there
    dask_workers: int = 0  # >0: a local Dask cluster of this many worker processes
    task_batch: int = 500  # sources (collect) or pages (extract) per task on Dask
    dask_batch_timeout: float = 3600.0  # a Dask stage fails when no batch has finished for this many seconds
    dask_no_worker_timeout: float = 120.0  # ... or when the scheduler has had no live worker for this many
    host_limits: str = "process"  # "database": per-host limits shared by every worker (storage.hostlimits)

    @property
    def scale_out(self) -> bool:
        return bool(self.dask_address) or self.dask_workers > 0
    llm: LLMConfig = field(default_factory=lambda: LLMConfig(None, None, "gpt-4.1-mini"))
    http: HttpSettings = field(default_factory=HttpSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self) -> str:
        return datetime.now(self.tz).date().isoformat()

    def window(self, day: str) -> tuple[datetime, datetime]:
        """The 24 hours a day's digest covers: up to `day` at the cutoff, local time."""
        d = parse_day(day)
        end = datetime.combine(d, self.day_cutoff, tzinfo=self.tz)
        return end - timedelta(days=1), end

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)


def _prices(raw: str | None) -> dict[str, tuple[float, float, float]] | None:
    """NEWSDESK_PRICES="model=input,output[,cached];..." in USD per million tokens, over the built-in table."""
    if not raw:
        return None
    table: dict[str, tuple[float, float, float]] = {}
    for entry in filter(None, (e.strip() for e in raw.split(";"))):
        model, _, numbers = entry.partition("=")
        try:
            values = [float(x) for x in numbers.split(",")]
        except ValueError:
            values = []
        if not model.strip() or len(values) not in (2, 3):
            raise ConfigError(f"NEWSDESK_PRICES: expected model=input,output[,cached] per million tokens, not {entry!r}")
        table[model.strip()] = (values[0], values[1], values[2] if len(values) == 3 else values[0])
    return table


LLM_MODES = ("json_schema", "json_object_schema", "json_object", "text")  # as summarizer.llm.MODES


HOST_LIMITS = ("process", "database")


def _host_limits(raw: str | None, scale_out: bool) -> str:
    """Where per-host limits live: the database by default when batches run on Dask workers."""
    if not raw:
        return "database" if scale_out else "process"
    if raw not in HOST_LIMITS:
        raise ConfigError(f"NEWSDESK_HOST_LIMITS must be one of {', '.join(HOST_LIMITS)}, not {raw!r}")
    return raw


def _llm_mode(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw not in LLM_MODES:
        raise ConfigError(f"NEWSDESK_LLM_MODE must be one of {', '.join(LLM_MODES)}, not {raw!r}")
    return raw


def _delivery(env: Mapping[str, str], site_url: str | None) -> DeliverySettings:
    """The newsletter (SMTP, sender, public desk URL, pacing) and the chat/social channels."""
    try:
        smtp = parse_smtp_url(env["NEWSDESK_SMTP_URL"]) if env.get("NEWSDESK_SMTP_URL") else None
        desk_url = check_public_url(env["NEWSDESK_PUBLIC_URL"], "NEWSDESK_PUBLIC_URL") if env.get("NEWSDESK_PUBLIC_URL") else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    rate = float(_number(env, "NEWSDESK_EMAIL_RATE", 5.0))
    if rate <= 0:
        raise ConfigError("NEWSDESK_EMAIL_RATE must be a positive number of messages per second")
    email = EmailSettings(
        smtp=smtp,
        from_addr=env.get("NEWSDESK_EMAIL_FROM") or None,
        reply_to=env.get("NEWSDESK_EMAIL_REPLY_TO") or None,
        desk_url=desk_url,
        unsubscribe_mailto=env.get("NEWSDESK_EMAIL_UNSUBSCRIBE_MAILTO") or None,
        rate_per_second=rate,
        max_retries=int(_number(env, "NEWSDESK_EMAIL_RETRIES", 3, int)),
        subscribe_form=_bool(env, "NEWSDESK_SUBSCRIBE_FORM", True),
        confirm_max_age=int(float(_number(env, "NEWSDESK_CONFIRM_HOURS", 48.0)) * 3600),
    )
    channels = ChannelSettings(
        discord_webhook_url=env.get("NEWSDESK_DISCORD_WEBHOOK_URL") or None,
        telegram_bot_token=env.get("NEWSDESK_TELEGRAM_BOT_TOKEN") or None,
        telegram_chat_id=env.get("NEWSDESK_TELEGRAM_CHAT_ID") or None,
        telegram_base_url=(env.get("NEWSDESK_TELEGRAM_BASE_URL") or "https://api.telegram.org").rstrip("/"),
        mastodon_base_url=(env.get("NEWSDESK_MASTODON_BASE_URL") or "").rstrip("/") or None,
        mastodon_token=env.get("NEWSDESK_MASTODON_TOKEN") or None,
        mastodon_max_chars=int(_number(env, "NEWSDESK_MASTODON_MAX_CHARS", 500, int)),
        bluesky_handle=env.get("NEWSDESK_BLUESKY_HANDLE") or None,
        bluesky_app_password=env.get("NEWSDESK_BLUESKY_APP_PASSWORD") or None,
        bluesky_base_url=(env.get("NEWSDESK_BLUESKY_BASE_URL") or "https://bsky.social").rstrip("/"),
    )
    return DeliverySettings(email=email, channels=channels, site_url=site_url)


DAY_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(value: str) -> date:
    """A YYYY-MM-DD day; a well-formed day the calendar lacks (2026-02-30) is "no such date", not a format error."""
    if not isinstance(value, str) or not DAY_FORMAT.match(value):
        raise ConfigError(f"bad day {value!r}: use YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"bad day {value!r}: no such date ({exc})") from None


def _thread_days(env: Mapping[str, str]) -> int:
    """NEWSDESK_THREAD_DAYS: how many days back a running story's thread may continue (default 14)."""
    days = int(_number(env, "NEWSDESK_THREAD_DAYS", 14, int))
    if days < 1:
        raise ConfigError(f"NEWSDESK_THREAD_DAYS must be at least 1, not {days}")
    return days


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds: a deadline of 0 or less would fail every stage at once."""
    value = float(_number(env, name, default))
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {value:g}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (defaults first, variables over them)."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("NEWSDESK_DATA_DIR") or _default_data_dir(env)).expanduser()
    tz = env.get("NEWSDESK_TIMEZONE") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"NEWSDESK_TIMEZONE: unknown time zone {tz!r}") from None
    cutoff_raw = env.get("NEWSDESK_DAY_CUTOFF") or "06:00"
    try:
        cutoff = time.fromisoformat(cutoff_raw)
    except ValueError:
        raise ConfigError(f"NEWSDESK_DAY_CUTOFF must be HH:MM, not {cutoff_raw!r}") from None
    style = env.get("NEWSDESK_STYLE") or "awesome-ai-daily"
    if style not in STYLES:
        raise ConfigError(f"NEWSDESK_STYLE must be one of {', '.join(STYLES)}, not {style!r}")
    llm = LLMConfig(
        api_key=env.get("OPENAI_API_KEY") or None,
        base_url=env.get("OPENAI_BASE_URL") or None,
        model=env.get("NEWSDESK_MODEL") or "gpt-4.1-mini",
        concurrency=int(_number(env, "NEWSDESK_LLM_CONCURRENCY", 16, int)),
        max_tokens_per_night=_number(env, "NEWSDESK_BUDGET_TOKENS", None, int),
        max_usd_per_night=_number(env, "NEWSDESK_BUDGET_USD", None, float),
        input_token_budget=int(_number(env, "NEWSDESK_INPUT_TOKENS_PER_STORY", 6000, int)),
        timeout=float(_number(env, "NEWSDESK_LLM_TIMEOUT", 60.0)),
        prices=_prices(env.get("NEWSDESK_PRICES")),
        context_tokens=_number(env, "NEWSDESK_CONTEXT_TOKENS", None, int),
        mode=_llm_mode(env.get("NEWSDESK_LLM_MODE")),
    )
    http = HttpSettings(
        allow_private_hosts=_private_hosts(env),
        global_concurrency=int(_number(env, "NEWSDESK_HTTP_CONCURRENCY", 200, int)),
        per_host_concurrency=int(_number(env, "NEWSDESK_HTTP_PER_HOST", 4, int)),
    )
    database_url = env.get("NEWSDESK_DATABASE_URL") or f"sqlite:///{data_dir / 'newsdesk.db'}"
    if env.get("NEWSDESK_DATABASE_URL"):
        from storage.dburl import DatabaseURLError, normalize_database_url

        try:
            database_url = normalize_database_url(database_url)
        except DatabaseURLError as exc:
            raise ConfigError(f"database URL (NEWSDESK_DATABASE_URL or --database-url): {exc}") from None
    dask_address = env.get("NEWSDESK_DASK_ADDRESS") or None
    dask_workers = max(0, int(_number(env, "NEWSDESK_DASK_WORKERS", 0, int)))
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        sources_file=Path(env.get("NEWSDESK_SOURCES") or REPO_ROOT / "sources.yaml").expanduser(),
        prompts_dir=Path(env.get("NEWSDESK_PROMPTS_DIR") or REPO_ROOT / "prompts").expanduser(),
        publish_dir=Path(env.get("NEWSDESK_PUBLISH_DIR") or data_dir / "site").expanduser(),
        timezone=tz,
        day_cutoff=cutoff,
        style=style,
        max_stories=int(_number(env, "NEWSDESK_MAX_STORIES", 12, int)),
        flag_after=int(_number(env, "NEWSDESK_FLAG_AFTER", 3, int)),
        thread_days=_thread_days(env),
        x_bearer_token=env.get("NEWSDESK_X_BEARER_TOKEN") or None,
        site_url=env.get("NEWSDESK_SITE_URL") or None,
        webhook_url=env.get("NEWSDESK_WEBHOOK_URL") or None,
        secret_key=env.get("NEWSDESK_SECRET_KEY") or None,
        trusted_proxies=_proxies(env),
        lock_wait=float(_number(env, "NEWSDESK_LOCK_WAIT", 0.0)),
        extract_batch=max(1, int(_number(env, "NEWSDESK_EXTRACT_BATCH", 100, int))),
        dask_address=dask_address,
        dask_workers=dask_workers,
        task_batch=max(1, int(_number(env, "NEWSDESK_TASK_BATCH", 500, int))),
        dask_batch_timeout=_seconds(env, "NEWSDESK_DASK_BATCH_TIMEOUT", 3600.0),
        dask_no_worker_timeout=_seconds(env, "NEWSDESK_DASK_NO_WORKER_TIMEOUT", 120.0),
        host_limits=_host_limits(env.get("NEWSDESK_HOST_LIMITS"), bool(dask_address) or dask_workers > 0),
        llm=llm,
        http=http,
        delivery=_delivery(env, env.get("NEWSDESK_SITE_URL") or None),
    )
