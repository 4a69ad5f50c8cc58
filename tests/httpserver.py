"""A small real HTTP/1.1 server on 127.0.0.1 in a thread, for tests that need a socket.

Routes are data: status, headers, body, delay, gzip, chunked, truncated,
connection reset, or a callable that builds the answer from the request.
Every request is recorded so tests can assert on the headers we sent.
"""
from __future__ import annotations

import gzip as gzip_mod
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Callable

from newsdesk.demo.server import QuietHTTPServer

__all__ = ["Route", "Recorded", "TestServer"]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    gzip: bool = False  # compress `body` and send Content-Encoding: gzip
    raw_gzip: bytes | None = None  # already-compressed body (gzip bombs)
    chunked: bool = False
    truncate: bool = False  # promise more bytes than we send, then close
    reset: bool = False  # abort the connection with RST instead of answering


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    peer: tuple[str, int] = ("", 0)  # the client's address: same port = same connection


Handler = Callable[[Recorded], Route]


class TestServer:
    """Use as a context manager; `url(path)` gives the full URL of a route."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.routes: dict[str, Route | Handler] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                rec = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, self.client_address[:2])
                with server._lock:
                    server.requests.append(rec)
                route = server.routes.get(self.path.split("?", 1)[0]) or server.routes.get(self.path)
                if route is None:
                    route = Route(404, b"not found")
                elif callable(route):
                    route = route(rec)
                server._answer(self, route)

        self._httpd = QuietHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def __enter__(self) -> "TestServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, route: Route) -> None:
        if route.delay:
            time.sleep(route.delay)
        if route.reset:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        body = route.body
        headers = dict(route.headers)
        if route.raw_gzip is not None:
            body = route.raw_gzip
            headers["Content-Encoding"] = "gzip"
        elif route.gzip:
            body = gzip_mod.compress(body)
            headers["Content-Encoding"] = "gzip"
        h.send_response(route.status)
        for k, v in headers.items():
            h.send_header(k, v)
        if route.chunked:
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                if part:
                    h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                if route.truncate:
                    break
            if not route.truncate:
                h.wfile.write(b"0\r\n\r\n")
        else:
            length = len(body) + (1000 if route.truncate else 0)
            if route.status not in (204, 304):
                h.send_header("Content-Length", str(length))
            h.end_headers()
            if route.status not in (204, 304):
                h.wfile.write(body)
        h.wfile.flush()
        if route.truncate:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
