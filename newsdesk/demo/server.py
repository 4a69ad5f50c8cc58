"""A real HTTP server for the bundled sample day.

`serve_sample_day()` starts a `ThreadingHTTPServer` on 127.0.0.1 in a daemon
thread and yields its base URL. It serves:

- the static files under `sample_day/site/` (feeds, article pages, robots.txt),
  with `{{BASE_URL}}` replaced by the server's own URL so that every link
  points back at it;
- the recorded social API answers under `sample_day/api/`, routed by the same
  request paths the real services use (see docs/architecture.md);
- two deliberately broken sources (see `BROKEN_SOURCES`).

Every 200 answer carries an ETag and a Last-Modified header, and conditional
requests (If-None-Match / If-Modified-Since) get a 304, so a second nightly
run over the sample day sees nothing new.

Run `python -m newsdesk.demo.server [--port N]` to browse the sample day.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DATA_DIR = Path(__file__).parent / "sample_day"
SITE_DIR = DATA_DIR / "site"
API_DIR = DATA_DIR / "api"
PLACEHOLDER = "{{BASE_URL}}"

# Every file of the sample day claims to have been last modified just after
# the day's cutoff (06:00 Europe/London on 2026-11-19 is 06:00 UTC).
LAST_MODIFIED = datetime(2026, 11, 19, 5, 30, tzinfo=timezone.utc)
LAST_MODIFIED_HTTP = format_datetime(LAST_MODIFIED, usegmt=True)

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"

_EXTENSION_TYPES = {
    ".html": HTML,
    ".json": JSON,
    ".txt": "text/plain; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
}


@dataclass(frozen=True)
class BrokenSource:
    """A source the server serves badly on purpose, and how it misbehaves."""

    name: str
    path: str
    behaviour: str
    status: int


BROKEN_SOURCES: tuple[BrokenSource, ...] = (
    BrokenSource(
        name="Quarry Wire (broken feed)",
        path="/feeds/broken.xml",
        behaviour="200 with application/rss+xml, but the XML is cut off and malformed",
        status=200,
    ),
    BrokenSource(
        name="Lattice Post (server down)",
        path="/feeds/down.xml",
        behaviour="always HTTP 500 with a small HTML error page",
        status=500,
    ),
)


def _feed_type(body: bytes) -> str:
    head = body[:400]
    if b"<rdf:RDF" in head:
        return "application/rdf+xml; charset=utf-8"
    if b"<feed" in head:
        return "application/atom+xml; charset=utf-8"
    if b'"https://jsonfeed.org/version/' in head:
        return "application/feed+json; charset=utf-8"
    return "application/rss+xml; charset=utf-8"


def _content_type(path: Path, body: bytes) -> str:
    if path.suffix == ".xml" or (path.suffix == ".json" and b"jsonfeed.org/version/" in body[:400]):
        return _feed_type(body)
    return _EXTENSION_TYPES.get(path.suffix, "application/octet-stream")


@dataclass
class _Doc:
    body: bytes
    content_type: str
    etag: str


class _SampleDay:
    """All files of the sample day, loaded once, with the base URL filled in."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._cache: dict[Path, _Doc] = {}
        self._lock = threading.Lock()

    def doc(self, path: Path, content_type: str | None = None) -> _Doc | None:
        with self._lock:
            if path in self._cache:
                return self._cache[path]
        if not path.is_file():
            return None
        raw = path.read_bytes().replace(PLACEHOLDER.encode(), self.base_url.encode())
        doc = _Doc(
            body=raw,
            content_type=content_type or _content_type(path, raw),
            etag='"' + hashlib.sha256(raw).hexdigest()[:32] + '"',
        )
        with self._lock:
            self._cache[path] = doc
        return doc

    def static(self, url_path: str) -> _Doc | None:
        rel = unquote(url_path).lstrip("/")
        if ".." in rel.split("/"):
            return None
        base = SITE_DIR / rel if rel else SITE_DIR
        candidates = [base, base.with_name(base.name + ".html"), base / "index.html"]
        for cand in candidates:
            if cand.is_file():
                return self.doc(cand)
        return None


_HN_FILTER = re.compile(r"^(points|created_at_i|num_comments)(>=|<=|>|<|=)(\d+)$")


def _hn_filter(hits: list[dict], numeric_filters: str, tags: str) -> list[dict]:
    """Apply the subset of Algolia's numericFilters/tags the collector uses."""
    ops = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        "=": lambda a, b: a == b,
    }
    out = hits
    for clause in filter(None, (c.strip() for c in numeric_filters.split(","))):
        m = _HN_FILTER.match(clause)
        if not m:
            continue
        field_name, op, value = m.group(1), m.group(2), int(m.group(3))
        out = [h for h in out if ops[op](int(h.get(field_name) or 0), value)]
    for tag in filter(None, (t.strip() for t in tags.split(","))):
        out = [h for h in out if tag in h.get("_tags", [])]
    return out


class _Handler(BaseHTTPRequestHandler):
    server_version = "newsdesk-demo/1"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    day: _SampleDay  # set on the subclass built per server
    request_log: list | None = None

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        return

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._handle(head=False)

    # -- routing ------------------------------------------------------------

    def _handle(self, head: bool) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        try:
            self._route(path, query, head)
        except Exception as exc:  # pragma: no cover - a bug in the demo server
            self._send_error(500, f"demo server error: {exc!r}", head)

    def send_response(self, code: int, message: str | None = None) -> None:
        # Logged before the response leaves, so a client that has its answer
        # always finds the request in the log.
        if self.request_log is not None:
            self.request_log.append((self.command, self.path, code))
        super().send_response(code, message)

    def _route(self, path: str, query: dict[str, list[str]], head: bool) -> int:
        day = self.day
        if path == "/feeds/down.xml":
            return self._send_error(500, "Internal Server Error", head)
        if path.startswith("/private/") or path == "/private":
            return self._send_error(403, "Forbidden", head)
        if path == "/xrpc/app.bsky.feed.getAuthorFeed":
            actor = (query.get("actor") or [""])[0].lower().lstrip("@")
            doc = day.doc(API_DIR / "bluesky" / f"{_safe(actor)}.json", JSON) if actor else None
            if doc is None:
                return self._send_json(400, {"error": "InvalidRequest", "message": "Profile not found"}, head)
            return self._send_doc(doc, head)
        if path == "/api/v1/accounts/lookup":
            acct = (query.get("acct") or [""])[0].lstrip("@").split("@")[0].lower()
            doc = day.doc(API_DIR / "mastodon" / "lookup" / f"{_safe(acct)}.json", JSON) if acct else None
            if doc is None:
                return self._send_json(404, {"error": "Record not found"}, head)
            return self._send_doc(doc, head)
        m = re.fullmatch(r"/api/v1/accounts/([0-9]+)/statuses", path)
        if m:
            doc = day.doc(API_DIR / "mastodon" / "statuses" / f"{m.group(1)}.json", JSON)
            if doc is None:
                return self._send_json(404, {"error": "Record not found"}, head)
            return self._send_doc(doc, head)
        m = re.fullmatch(r"/r/([A-Za-z0-9_]+)/top\.json", path)
        if m:
            doc = day.doc(API_DIR / "reddit" / f"{m.group(1).lower()}.json", JSON)
            if doc is None:
                return self._send_json(404, {"message": "Not Found", "error": 404}, head)
            return self._send_doc(doc, head)
        if path == "/api/v1/search_by_date":
            return self._hackernews(query, head)
        doc = day.static(path)
        if doc is None:
            return self._send_error(404, "Not Found", head)
        return self._send_doc(doc, head)

    def _hackernews(self, query: dict[str, list[str]], head: bool) -> int:
        doc = self.day.doc(API_DIR / "hackernews" / "search_by_date.json", JSON)
        assert doc is not None
        data = json.loads(doc.body)
        numeric = (query.get("numericFilters") or [""])[0]
        tags = (query.get("tags") or [""])[0]
        hits = _hn_filter(data["hits"], numeric, tags)
        try:
            per_page = max(1, min(1000, int((query.get("hitsPerPage") or ["20"])[0])))
        except ValueError:
            per_page = 20
        data["hits"] = hits[:per_page]
        data["nbHits"] = len(hits)
        data["hitsPerPage"] = per_page
        data["nbPages"] = 1 if hits else 0
        data["params"] = urlsplit(self.path).query
        body = json.dumps(data, indent=1).encode()
        # The ETag depends on the answer, so a repeated query still gets a 304.
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return self._send_doc(_Doc(body, JSON, etag), head)

    # -- responses ----------------------------------------------------------

    def _not_modified(self, doc: _Doc) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip() for t in inm.split(",")}
            return "*" in tags or doc.etag in tags or ("W/" + doc.etag) in tags
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=timezone.utc)
            return since >= LAST_MODIFIED
        return False

    def _send_doc(self, doc: _Doc, head: bool) -> int:
        if self._not_modified(doc):
            self.send_response(304)
            self.send_header("ETag", doc.etag)
            self.send_header("Last-Modified", LAST_MODIFIED_HTTP)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return 304
        self.send_response(200)
        self.send_header("Content-Type", doc.content_type)
        self.send_header("Content-Length", str(len(doc.body)))
        self.send_header("ETag", doc.etag)
        self.send_header("Last-Modified", LAST_MODIFIED_HTTP)
        self.send_header("Cache-Control", "max-age=0, must-revalidate")
        self.end_headers()
        if not head:
            self.wfile.write(doc.body)
        return 200

    def _send_json(self, status: int, payload: dict, head: bool) -> int:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
        return status

    def _send_error(self, status: int, message: str, head: bool) -> int:
        body = (
            f"<!doctype html><html><head><title>{status} {message}</title></head>"
            f"<body><h1>{status}</h1><p>{message}</p></body></html>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", HTML)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
        return status


def _safe(name: str) -> str:
    """A file-name-safe version of a handle (no path tricks)."""
    return re.sub(r"[^a-z0-9._-]", "_", name)


class QuietHTTPServer(ThreadingHTTPServer):
    """A client that hangs up early (a timeout, a cancelled fetch) is routine, not a traceback on stderr."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError...
            return
        super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_sample_day(
    host: str = "127.0.0.1", port: int = 0, request_log: list | None = None
) -> Iterator[str]:
    """Serve the sample day; yields the base URL, e.g. ``http://127.0.0.1:54321``.

    If `request_log` is a list, every request is appended to it as
    ``(method, path_with_query, status)``: handy for asserting that a second
    run was all 304s or that `/private/` was never fetched.
    """
    handler = type("_DemoHandler", (_Handler,), {})
    server = QuietHTTPServer((host, port), handler)
    server.daemon_threads = True
    bound_host, bound_port = server.server_address[:2]
    url_host = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    base_url = f"http://{url_host}:{bound_port}"
    handler.day = _SampleDay(base_url)
    handler.request_log = request_log
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="newsdesk-demo-server", daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    from newsdesk.demo.sources import demo_sources

    parser = argparse.ArgumentParser(description="Serve the newsdesk sample day until Ctrl-C.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    with serve_sample_day(args.host, args.port) as url:
        print(f"Serving the sample day at {url}  (Ctrl-C to stop)")
        for src in demo_sources(url):
            where = src.get("url") or f"{src['type']} {src.get('handle', '')}".strip()
            print(f"  {src['name']:<32} {where}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopped")


if __name__ == "__main__":
    main()
