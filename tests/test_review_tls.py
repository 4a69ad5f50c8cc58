"""The session cookie is Secure exactly when the desk is reached over TLS, on a real uvicorn.

Two ways an editor reaches the desk over TLS: uvicorn terminating TLS itself,
and a TLS proxy on the same host forwarding plain HTTP with X-Forwarded-Proto
(uvicorn's defaults, as `newsdesk serve` runs it, trust that from loopback).
"""
from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from ipaddress import IPv4Address
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import pytest

from review.app import create_app
from review.settings import ReviewSettings
from review.users import add_user
from test_review_http import PASSWORD

uvicorn = pytest.importorskip("uvicorn")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made on the spot."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def desk_server(db, tmp: Path, **config) -> Iterator[int]:
    """The desk under uvicorn on 127.0.0.1 in a thread; yields its port."""
    settings = ReviewSettings(database_url=db.url, secret_key="tls-test-secret-0123456789", publish_dir=tmp / "site")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    started = threading.Event()
    while thread.is_alive() and not srv.started:  # uvicorn has no ready callback; poll its flag
        started.wait(0.05)
    assert srv.started, "the desk did not start"
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(10)


def _login_cookie(conn: http.client.HTTPConnection, headers: dict[str, str] | None = None) -> SimpleCookie:
    """Sign in as a browser would; return the session cookie the desk set on success."""
    headers = headers or {}
    conn.request("GET", "/login", headers=headers)
    resp = conn.getresponse()
    page = resp.read().decode()
    jar = SimpleCookie(resp.getheader("set-cookie"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urlencode({"name": "ana", "password": PASSWORD, "csrf_token": token, "next": "/"})
    conn.request("POST", "/login", body=body, headers=headers | {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"newsdesk_session={jar['newsdesk_session'].value}",
    })
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 303
    return SimpleCookie(resp.getheader("set-cookie"))


def test_cookie_is_secure_over_tls_and_not_over_plain_http(db, tmp_path) -> None:
    pytest.importorskip("cryptography")  # to make a certificate; installed with Prefect
    add_user(db, "ana", "editor", PASSWORD)
    cert, key = _self_signed(tmp_path)
    with desk_server(db, tmp_path, ssl_certfile=str(cert), ssl_keyfile=str(key)) as port:
        ctx = ssl.create_default_context(cafile=str(cert))
        cookie = _login_cookie(http.client.HTTPSConnection("127.0.0.1", port, context=ctx))["newsdesk_session"]
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"].lower() == "lax"
    with desk_server(db, tmp_path) as port:
        cookie = _login_cookie(http.client.HTTPConnection("127.0.0.1", port))["newsdesk_session"]
        assert not cookie["secure"] and cookie["httponly"]


def test_cookie_is_secure_behind_a_tls_proxy_on_the_same_host(db, tmp_path) -> None:
    add_user(db, "ana", "editor", PASSWORD)
    with desk_server(db, tmp_path) as port:  # uvicorn's defaults, as `newsdesk serve` uses them
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        cookie = _login_cookie(http.client.HTTPConnection("127.0.0.1", port), proxied)["newsdesk_session"]
        assert cookie["secure"]
