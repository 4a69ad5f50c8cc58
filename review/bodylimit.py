"""A cap on request bodies, before any form parsing: the desk's forms are a few kilobytes.

Why: every field has a limit (storage.limits), but a megabyte form still
costs memory and CPU to parse before a field can be refused. Bodies over
`max_bytes` get 413: declared ones at once, streamed ones as soon as they
pass the cap.
"""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 256 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int):
        super().__init__(413, f"The form was larger than the desk accepts ({max_bytes // 1024} KB). Nothing was saved.")


class BodyLimit:
    """ASGI middleware: 413 for a request body over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, self.max_bytes)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)  # FastAPI passes HTTPException through to the handlers
            return message

        await self.app(scope, limited, send)


async def _refuse(send: Send, max_bytes: int) -> None:
    body = (f"<!doctype html><title>Too large</title><p>The form was larger than the desk accepts "
            f"({max_bytes // 1024} KB). Nothing was saved.</p>").encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
