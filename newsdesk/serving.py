"""Running the desk under uvicorn: forwarded headers left to the app, and a bounded shutdown.

- uvicorn's own proxy-header handling trusts `X-Forwarded-For` from loopback
  by default, which let anyone behind (or on) the same host rotate the address
  the login throttle counts. It is off: the desk reads forwarded headers
  itself, only from NEWSDESK_TRUSTED_PROXIES (review.clientaddr).
- On SIGTERM or Ctrl-C, uvicorn waits for requests in flight without limit
  (a redraft waiting on a slow model kept `serve` alive for minutes). They get
  `grace_seconds` to finish, then are cancelled and the process exits.
"""
from __future__ import annotations

import uvicorn

GRACE_SECONDS = 10


def serve_app(app, *, host: str, port: int, grace_seconds: int = GRACE_SECONDS, log_level: str = "warning") -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        timeout_graceful_shutdown=grace_seconds,
    )
    uvicorn.Server(config).run()
