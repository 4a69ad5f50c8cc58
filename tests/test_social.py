"""Post collectors: parsers against recorded API answers, and collect() over a loopback server.

Each `tests/fixtures/social/<network>/expected.json` names its recorded answers
and states what they must produce, so adding a case means adding data:

- `spec`: SourceSpec fields (the tests add `base_url` for the loopback server);
- `payload`: the file (or {key: file} mapping) given to `parse_<network>`;
- `responses`: request path -> file, served by the loopback server;
- `request_paths`: the exact paths with queries collect() must ask for, in order;
- `warnings`: one substring per expected warning;
- `items`: every expected item in order, with the fields to check;
- `since`: a cut-off and the guids that survive it.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

import pytest

from extractors.http import Fetcher, HttpSettings
from extractors.models import CollectedItem, SourceResult, SourceSpec
from extractors.social.common import Post, clean_links, html_to_text, make_title, merge_threads
from newsdesk.demo.server import QuietHTTPServer

FIXTURES = Path(__file__).parent / "fixtures" / "social"
NETWORKS = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


# -- fixture data ------------------------------------------------------------------


def _case(network: str) -> dict:
    return json.loads((FIXTURES / network / "expected.json").read_text(encoding="utf-8"))


def _load(network: str, name: str) -> Any:
    return json.loads((FIXTURES / network / name).read_text(encoding="utf-8"))


def _payload(network: str, case: dict) -> Any:
    ref = case["payload"]
    if isinstance(ref, str):
        return _load(network, ref)
    return {key: _load(network, name) for key, name in ref.items()}


def _spec(case: dict, base_url: str | None = None, **options: Any) -> SourceSpec:
    fields = dict(case["spec"])
    fields["options"] = {**fields.get("options", {}), **options}
    if base_url:
        fields["base_url"] = base_url
    return SourceSpec(**fields)


def _module(network: str):
    return importlib.import_module(f"extractors.social.{network}")


def _check_items(items: list[CollectedItem], case: dict) -> None:
    expected = case["items"]
    assert [it.guid for it in items] == [e["guid"] for e in expected]
    for item, want in zip(items, expected):
        for key, value in want.items():
            got = getattr(item, key)
            if key == "published_at":
                got = got.isoformat()
            assert got == value, f"{item.guid}: {key}"
        assert item.kind == "post"
        assert item.source == case["spec"]["name"]
        assert item.published_at is not None and item.published_at.utcoffset().total_seconds() == 0


def _check_warnings(warnings: list[str], case: dict) -> None:
    assert len(warnings) == len(case["warnings"]), warnings
    for got, fragment in zip(warnings, case["warnings"]):
        assert fragment in got
        assert "\n" not in got


# -- loopback server ---------------------------------------------------------------


@dataclass
class Loopback:
    """A real HTTP server on 127.0.0.1 answering from a path -> (status, body) table."""

    url: str
    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def serve_case(self, network: str, case: dict) -> None:
        for path, name in case["responses"].items():
            self.routes[path] = (200, (FIXTURES / network / name).read_bytes())

    def fail_all(self, network: str, case: dict, status: int, body: bytes) -> None:
        for path in case["responses"]:
            self.routes[path] = (status, body)

    def paths(self) -> list[str]:
        """Request paths with queries, percent-decoded so that equivalent encodings compare equal."""
        return [unquote(p) for p, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state: Loopback = self.server.state  # type: ignore[attr-defined]
        state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        status, body = state.routes.get(urlsplit(self.path).path, (404, b'{"error": "Not Found"}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def _server() -> Iterator[ThreadingHTTPServer]:
    server = QuietHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback(_server: ThreadingHTTPServer) -> Loopback:
    host, port = _server.server_address[:2]
    state = Loopback(url=f"http://{host}:{port}")
    _server.state = state  # type: ignore[attr-defined]
    return state


@pytest.fixture
async def fetcher() -> Any:
    f = Fetcher(HttpSettings(allow_private_hosts="loopback", retries=0))
    yield f
    await f.aclose()


async def _collect(network: str, spec: SourceSpec, fetcher: Fetcher, since: datetime | None = None) -> SourceResult:
    return await _module(network).collect(spec, fetcher, since=since)


# -- parsers -----------------------------------------------------------------------


@pytest.mark.parametrize("network", NETWORKS)
def test_parser_produces_the_expected_items(network: str) -> None:
    case = _case(network)
    parse = getattr(_module(network), f"parse_{network}")
    items, warnings = parse(_payload(network, case), _spec(case))
    _check_items(items, case)
    _check_warnings(warnings, case)


@pytest.mark.parametrize("network", NETWORKS)
def test_one_malformed_post_is_a_warning_and_the_others_are_kept(network: str) -> None:
    case = _case(network)
    parse = getattr(_module(network), f"parse_{network}")
    items, warnings = parse(_payload(network, case), _spec(case))
    assert len(warnings) == 1 and "malformed" in warnings[0]
    assert len(items) == len(case["items"]) >= 2


@pytest.mark.parametrize("network", ["bluesky", "mastodon", "x"])
def test_self_threads_become_one_item_and_reposts_keep_their_author(network: str) -> None:
    case = _case(network)
    parse = getattr(_module(network), f"parse_{network}")
    items, _ = parse(_payload(network, case), _spec(case))
    thread = items[0]
    assert thread.text.count("\n\n") >= 2  # three posts joined
    assert thread.engagement == case["items"][0]["engagement"]
    authors = {it.author for it in items}
    assert case["repost_author"] in authors and case["repost_author"] != thread.author


def test_links_are_canonical_deduplicated_and_leave_the_network() -> None:
    links = clean_links(
        [
            "https://Example.com/a/?utm_source=bsky&id=2",
            "https://example.com/a?id=2&fbclid=xyz",
            "https://bsky.app/profile/someone.bsky.social/post/3abc",
            "mailto:someone@example.com",
            None,
            "https://other.example/b#section",
        ],
        lambda host, path: host == "bsky.app",
    )
    assert links == ["https://example.com/a?id=2", "https://other.example/b"]


def test_titles_are_the_first_sentence_or_about_a_hundred_characters() -> None:
    assert make_title("Model X is out. It is large.") == "Model X is out."
    assert make_title("First line\nsecond line") == "First line"
    long = "word " * 60
    title = make_title(long)
    assert title.endswith("…") and len(title) <= 101
    assert make_title("   ", fallback="https://example.com/x") == "https://example.com/x"


def test_mastodon_html_becomes_text_without_mention_or_hashtag_links() -> None:
    html = (
        '<p>Read <a href="https://example.com/paper" rel="nofollow noopener" target="_blank">'
        '<span class="invisible">https://</span><span class="ellipsis">example.com/pap</span>'
        '<span class="invisible">er</span></a> by <span class="h-card"><a href="https://m.example/@ann" '
        'class="u-url mention">@<span>ann</span></a></span> <a href="https://m.example/tags/ai" '
        'class="mention hashtag" rel="tag">#<span>ai</span></a></p><p>A &amp; B<br>next</p>'
    )
    text, links = html_to_text(html)
    assert text == "Read example.com/pap… by @ann #ai\n\nA & B\nnext"
    assert links == ["https://example.com/paper"]


def test_a_reply_whose_parent_is_missing_joins_the_named_root() -> None:
    def post(key: str, minute: int, parent: str | None = None, root: str | None = None, author: str = "@a") -> Post:
        return Post(key=key, guid=key, url=f"https://example.com/{key}", author=author, text=key,
                    published_at=datetime(2026, 11, 18, 10, minute, tzinfo=timezone.utc),
                    engagement={"likes": 1}, parent=parent, root=root)

    merged = merge_threads([post("c", 2, parent="b", root="a"), post("a", 0), post("x", 1, parent="a", author="@b")])
    assert [(p.key, p.text, p.engagement["likes"]) for p in merged] == [("a", "a\n\nc", 2), ("x", "x", 1)]


# -- collect() over loopback -------------------------------------------------------


@pytest.mark.parametrize("network", NETWORKS)
async def test_collect_over_loopback(network: str, loopback: Loopback, fetcher: Fetcher) -> None:
    case = _case(network)
    loopback.serve_case(network, case)
    result = await _collect(network, _spec(case, loopback.url), fetcher)
    assert result.status == "ok", result.error
    _check_items(result.items, case)
    _check_warnings(result.warnings, case)
    assert loopback.paths() == case["request_paths"]


@pytest.mark.parametrize("network", NETWORKS)
async def test_since_drops_older_items(network: str, loopback: Loopback, fetcher: Fetcher) -> None:
    case = _case(network)
    loopback.serve_case(network, case)
    since = datetime.fromisoformat(case["since"]["at"])
    result = await _collect(network, _spec(case, loopback.url), fetcher, since=since)
    assert result.status == "ok", result.error
    assert [it.guid for it in result.items] == case["since"]["guids"]
    for fragment in case["since"].get("query_contains", []):
        assert any(fragment in p for p in loopback.paths()), fragment


@pytest.mark.parametrize("network", NETWORKS)
async def test_http_500_is_an_error_result(network: str, loopback: Loopback, fetcher: Fetcher) -> None:
    case = _case(network)
    loopback.fail_all(network, case, 500, b"Internal Server Error")
    result = await _collect(network, _spec(case, loopback.url), fetcher)
    assert result.status == "error" and result.items == []
    assert "500" in result.error and "\n" not in result.error


@pytest.mark.parametrize("network", NETWORKS)
async def test_invalid_json_is_an_error_result(network: str, loopback: Loopback, fetcher: Fetcher) -> None:
    case = _case(network)
    loopback.fail_all(network, case, 200, b"<html><body>Rate limited</body></html>")
    result = await _collect(network, _spec(case, loopback.url), fetcher)
    assert result.status == "error" and result.items == []
    assert "invalid JSON" in result.error and "\n" not in result.error


@pytest.mark.parametrize("network", NETWORKS)
async def test_json_of_the_wrong_shape_is_an_error_result(network: str, loopback: Loopback, fetcher: Fetcher) -> None:
    case = _case(network)
    loopback.fail_all(network, case, 200, b'["not", "what", "the", "api", "returns"]')
    result = await _collect(network, _spec(case, loopback.url), fetcher)
    assert result.status == "error" and result.error


async def test_unreachable_host_is_an_error_result(fetcher: Fetcher) -> None:
    case = _case("bluesky")
    with socket_closed_port() as url:
        result = await _collect("bluesky", _spec(case, url), fetcher)
    assert result.status == "error" and result.error


async def test_x_without_a_token_is_skipped_without_a_request(loopback: Loopback, fetcher: Fetcher) -> None:
    case = _case("x")
    spec = _spec(case, loopback.url)
    spec.options.pop("bearer_token", None)
    result = await _collect("x", spec, fetcher)
    assert result.status == "skipped"
    assert "NEWSDESK_X_BEARER_TOKEN" in result.error
    assert loopback.requests == []


async def test_x_sends_the_bearer_token(loopback: Loopback, fetcher: Fetcher) -> None:
    case = _case("x")
    loopback.serve_case("x", case)
    result = await _collect("x", _spec(case, loopback.url), fetcher)
    assert result.status == "ok"
    token = case["spec"]["options"]["bearer_token"]
    assert [h.get("authorization") for _, h in loopback.requests] == [f"Bearer {token}"] * 2


async def test_mastodon_handle_without_a_host_is_an_error_result(fetcher: Fetcher) -> None:
    spec = SourceSpec(name="bad", type="mastodon", handle="@nohost")
    result = await _collect("mastodon", spec, fetcher)
    assert result.status == "error" and "@user@host" in result.error


@contextlib.contextmanager
def socket_closed_port() -> Iterator[str]:
    """A URL on 127.0.0.1 where nothing listens (the port is bound, then released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("bad", ["javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd"])
def test_hackernews_never_stores_a_non_http_url(bad: str) -> None:
    from extractors.social.hackernews import parse_hackernews

    hit = {"objectID": "46019999", "title": "Totally normal link", "url": bad, "author": "mallory",
           "created_at_i": 1794996000, "points": 900, "num_comments": 3}
    items, warnings = parse_hackernews({"hits": [hit]}, SourceSpec(name="HN", type="hackernews"))
    (item,) = items
    assert item.url == "https://news.ycombinator.com/item?id=46019999"  # the discussion, as for Ask HN
    assert item.links == [] and not warnings
