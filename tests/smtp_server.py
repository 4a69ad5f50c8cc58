"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the newsletter tests.

Every accepted message is parsed and kept with the time it arrived. A test
can script answers per recipient (`script["a@x"] = ["451 4.7.1 Try later",
"250 OK"]`: one answer per attempt, the last one repeats) and turn on
STARTTLS and AUTH.
"""
from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    at: float
    raw: bytes


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[str]] = field(default_factory=dict)  # recipient -> answers to RCPT, in order
    rcpt_attempts: dict[str, int] = field(default_factory=dict)
    data_script: dict[str, str] = field(default_factory=dict)  # recipient -> the answer to its DATA
    mail_answer: str | None = None  # the answer to MAIL FROM, when not 250
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_message: object = None  # called with each Received, in the server's thread

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's names)
        with self.lock:
            n = self.rcpt_attempts.get(address, 0)
            self.rcpt_attempts[address] = n + 1
            answers = self.script.get(address)
        if answers:
            answer = answers[min(n, len(answers) - 1)]
            if not answer.startswith("2"):
                return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.mail_answer:
            return self.mail_answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.data_script:
                return self.data_script[rcpt]
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        item = Received(envelope.mail_from, list(envelope.rcpt_tos), msg, time.monotonic(), raw)
        with self.lock:
            self.received.append(item)
        if callable(self.on_message):
            self.on_message(item)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.recipients]


class SmtpServer:
    """`with SmtpServer() as smtp:` ... `smtp.url` is a NEWSDESK_SMTP_URL for it."""

    __test__ = False

    def __init__(self, *, tls_context: ssl.SSLContext | None = None, users: dict[str, str] | None = None):
        self.handler = Handler()
        self.port = free_port()
        self.users = users
        kw: dict = {}
        if tls_context is not None:
            kw.update(tls_context=tls_context, require_starttls=True)
        if users is not None:
            kw.update(authenticator=self._auth, auth_required=True, auth_require_tls=tls_context is not None)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10, **kw)

    def _auth(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            if self.users.get(auth_data.login.decode()) == auth_data.password.decode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def url(self, scheme: str = "smtp+plain", user: str | None = None, password: str | None = None) -> str:
        cred = f"{user}:{password}@" if user else ""
        return f"{scheme}://{cred}127.0.0.1:{self.port}"

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
