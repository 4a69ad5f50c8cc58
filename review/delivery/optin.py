"""Double opt-in: a signed, expiring link mailed to the address typed into the public form.

Nothing is stored until the person follows the link, so the form cannot be
used to fill the list with other people's addresses, and an address that
never confirms leaves no trace. The link carries the address, signed with the
desk's secret key; it expires after `confirm_max_age` seconds.
"""
from __future__ import annotations

from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from html import escape

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from review.delivery.newsletter import check_from
from review.delivery.settings import EmailSettings

SALT = "newsdesk-subscribe-v1"


class LinkExpired(ValueError):
    """The link was genuine but is too old: subscribe again."""


class LinkInvalid(ValueError):
    """Not a link we signed (mangled by a mail client, or forged)."""


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def make_token(secret_key: str, email: str) -> str:
    return _serializer(secret_key).dumps({"e": email})


def read_token(secret_key: str, token: str, max_age: int) -> str:
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkExpired("this confirmation link has expired") from None
    except BadSignature:
        raise LinkInvalid("this confirmation link is not valid") from None
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        raise LinkInvalid("this confirmation link is not valid")
    return data["e"]


def confirmation_message(settings: EmailSettings, email: str, token: str, list_name: str) -> EmailMessage:
    """A short plain message with the link; HTML too, since some clients hide bare links."""
    link = f"{settings.desk_url}/subscribe/confirm?token={token}"
    hours = max(1, settings.confirm_max_age // 3600)
    sender = check_from(settings.from_addr or "")
    msg = EmailMessage()
    msg["Subject"] = f"Confirm your subscription to {list_name}"
    msg["From"] = sender
    msg["To"] = email
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rsplit("@", 1)[-1])
    msg["Auto-Submitted"] = "auto-replied"
    text = (f"Someone (we hope you) asked to get {list_name} by email at this address.\n\n"
            f"To confirm, open this link within {hours} hours:\n{link}\n\n"
            "If it was not you, ignore this message: nothing happens and we keep nothing.\n")
    msg.set_content(text)
    msg.add_alternative(
        f"<p>Someone (we hope you) asked to get {escape(list_name)} by email at this address.</p>"
        f'<p><a href="{escape(link)}">Confirm your subscription</a> (the link works for {hours} hours).</p>'
        "<p>If it was not you, ignore this message: nothing happens and we keep nothing.</p>", subtype="html")
    return msg
