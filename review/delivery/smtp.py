"""Sending mail over SMTP with aiosmtplib: one connection reused, a rate cap, retries on 4xx.

Answers are sorted the way mail servers mean them:
- 2xx: sent;
- 4xx (greylisting, mailbox busy, 421 closing) and dropped connections or
  timeouts: tried again after a backoff that doubles, then left `deferred`
  for the next run;
- 5xx for a recipient: `failed`, final, and the address is marked bounced;
- 5xx for one message's data: `failed` for that send (the reader stays);
- 5xx for our sender address: the same for everyone, so the run stops;
- the server itself unusable (cannot connect after the retries, login
  refused): `SmtpUnavailable`, which stops the run so no reader is marked
  failed for the server's fault.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Awaitable, Callable

import aiosmtplib

from review.delivery.settings import SmtpSettings

log = logging.getLogger(__name__)


class SmtpUnavailable(RuntimeError):
    """The server cannot be used at all (connection or login): stop, rerun later."""


@dataclass(frozen=True)
class SendOutcome:
    status: str  # sent | deferred | failed
    attempts: int
    error: str | None = None
    code: int | None = None
    bounce: bool = False  # the address itself was refused for good (5xx to RCPT): never mail it again


class Pacer:
    """At most `rate` starts a second, spread evenly (a cap, not a burst allowance)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0

    async def wait(self) -> None:
        now = self.clock()
        if now < self._next:
            await self.sleep(self._next - now)
            now = self.clock()
        self._next = max(now, self._next) + self.interval


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}".replace("\n", " ")[:500]


def _code(exc: BaseException) -> int | None:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        return exc.recipients[0].code
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code
    return None


class SmtpMailer:
    """Use as `async with SmtpMailer(settings) as mailer: await mailer.send(msg)`."""

    def __init__(self, settings: SmtpSettings, *, max_retries: int = 3, backoff_seconds: float = 2.0,
                 max_backoff_seconds: float = 60.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.settings = settings
        self.max_retries = max(0, max_retries)
        self.backoff = backoff_seconds
        self.max_backoff = max_backoff_seconds
        self.sleep = sleep
        self._client: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> "SmtpMailer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        start_tls = {"starttls": True, "starttls-if-offered": None}.get(s.security, False)
        return aiosmtplib.SMTP(hostname=s.host, port=s.port, username=s.username, password=s.password,
                               use_tls=s.security == "tls", start_tls=start_tls, timeout=s.timeout,
                               tls_context=s.tls_context)

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = self._new_client()
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SmtpUnavailable(f"SMTP login refused by {self.settings.describe()}: {exc.code} {exc.message}") from exc
        self._client = client
        return client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def send(self, msg: EmailMessage) -> SendOutcome:
        """Send one message (one recipient); never raises for the recipient's or a 4xx answer."""
        attempts, last = 0, ""
        for attempt in range(self.max_retries + 1):
            attempts = attempt + 1
            try:
                client = await self._connected()
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                last = f"cannot connect to {self.settings.describe()}: {_describe(exc)}"
                code = _code(exc)
                if code is not None and 500 <= code < 600:
                    raise SmtpUnavailable(last) from exc
                if attempt < self.max_retries:
                    await self.sleep(self._wait(attempt))
                    continue
                raise SmtpUnavailable(last) from exc
            try:
                await client.send_message(msg)
                return SendOutcome("sent", attempts)
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
                code = _code(exc)
                last = _describe(exc)
                if code is not None and 500 <= code < 600:
                    await self._reset()
                    if isinstance(exc, aiosmtplib.SMTPSenderRefused):  # our From is refused: the same for everyone
                        raise SmtpUnavailable(f"the server refuses our sender: {last}") from exc
                    rcpt = isinstance(exc, (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused))
                    return SendOutcome("failed", attempts, last, code, bounce=rcpt)
                if code == 421:  # the server is closing this connection: reconnect on the next try
                    self._drop()
                else:
                    await self._reset()
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError, asyncio.TimeoutError) as exc:
                last = _describe(exc)
                self._drop()
            except aiosmtplib.SMTPException as exc:  # e.g. a non-ASCII address the server cannot take
                return SendOutcome("failed", attempts, _describe(exc))
            if attempt < self.max_retries:
                log.info("SMTP answer %s; trying again in %.1fs", last, self._wait(attempt))
                await self.sleep(self._wait(attempt))
        return SendOutcome("deferred", attempts, last)

    def _wait(self, attempt: int) -> float:
        return min(self.backoff * (2 ** attempt), self.max_backoff)

    async def _reset(self) -> None:
        client = self._client
        if client is None or not client.is_connected:
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._drop()
