"""What every post collector shares: the post shape before it becomes an item,
thread merging, link cleaning, titles, times, HTML to text, and error handling.

Each network module only translates its API's JSON into `Post`s; the rules
that must behave the same on every network (a self-thread is one story, links
are canonical and point off-network, nothing ever raises) live here once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, Awaitable, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from extractors.http import FetchError, Fetcher
from extractors.models import CollectedItem, SourceResult, SourceSpec
from extractors.urls import canonicalize, web_url

TITLE_LIMIT = 100
# Exceptions a parser expects from one malformed post; anything else is a bug.
MALFORMED = (KeyError, TypeError, ValueError, IndexError, AttributeError)

IsOwnLink = Callable[[str, str], bool]  # (host, path) -> True for the network's own pages


class CollectError(Exception):
    """A whole source failed (HTTP, JSON, an unexpected answer); the message is shown to editors."""


@dataclass
class Post:
    """One post as a network delivered it, before threads are merged.

    `key` is the network's id used to link replies; `parent` and `root` are set
    only when the post continues its own author's thread, so that merging never
    glues together posts by different people.
    """

    key: str
    guid: str
    url: str
    author: str | None
    text: str
    published_at: datetime
    engagement: dict[str, int] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    parent: str | None = None
    root: str | None = None
    title: str | None = None
    reply_to_other: bool = False  # a reply in someone else's conversation: chatter, never a story


# -- small value helpers ------------------------------------------------------

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime:
    """A timezone-aware UTC datetime from an ISO 8601 string or a Unix timestamp."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a time: {value!r}")
    dt = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def as_utc(dt: datetime) -> datetime:
    """Naive datetimes are taken to be UTC, as everywhere in newsdesk."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def counts(source: Mapping[str, Any] | None, names: Mapping[str, str]) -> dict[str, int]:
    """Engagement under our own key names ({ours: theirs}); missing or odd values are left out."""
    out: dict[str, int] = {}
    for ours, theirs in names.items():
        value = (source or {}).get(theirs)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[ours] = int(value)
    return out


_SENTENCE = re.compile(r"(.+?[.!?…])(?=\s|$)")
_URL = re.compile(r"https?://\S+")


def make_title(text: str, fallback: str = "", limit: int = TITLE_LIMIT) -> str:
    """A post has no title: use its first sentence, or its first ~`limit` characters.

    Bare URLs are left out: they are in `links` and make poor headlines.
    """
    lines = (" ".join(_URL.sub(" ", ln).split()) for ln in text.splitlines())
    line = next((ln for ln in lines if ln), "")
    if not line:
        return fallback
    m = _SENTENCE.match(line)
    first = m.group(1) if m else line
    if len(first) <= limit:
        return first
    cut = line[:limit]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–—") + "…"


def one_line(message: str) -> str:
    return " ".join(str(message).split())


# -- links ----------------------------------------------------------------------


def clean_links(urls: Iterable[str | None], is_own: IsOwnLink) -> list[str]:
    """Canonical http(s) links in first-seen order, without duplicates or links back into the network."""
    out: list[str] = []
    for raw in urls:
        if not isinstance(raw, str) or not raw.strip():
            continue
        if not web_url(raw):
            continue
        url = canonicalize(raw)
        parts = urlsplit(url)
        if is_own(parts.hostname, parts.path) or url in out:
            continue
        out.append(url)
    return out


# -- HTML to text -----------------------------------------------------------------

_BLOCK_END = {"p", "div", "blockquote", "li", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}


class _TextAndLinks(HTMLParser):
    """Plain text plus the hrefs of real links, skipping mentions, hashtags and hidden URL parts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden_depth = 0  # >0 inside <span class="invisible">
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, hides, ellipsis)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        classes = set(a.get("class", "").split())
        if tag == "br":
            self.parts.append("\n")
            return
        if tag == "p" and self.parts:
            self.parts.append("\n\n")
        if tag == "a":
            rel = set(a.get("rel", "").split())
            if a.get("href") and not (classes & {"mention", "hashtag"} or "tag" in rel):
                self.links.append(a["href"])
        hides = "invisible" in classes
        if tag in ("span", "a", "p", "div") or hides:
            self._stack.append((tag, hides, "ellipsis" in classes))
            if hides:
                self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                _, hides, ellipsis = self._stack.pop(i)
                if hides:
                    self._hidden_depth -= 1
                if ellipsis:
                    self.parts.append("…")
                break
        if tag in _BLOCK_END:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Plain text of post HTML (Mastodon content, HN story text) and the hrefs it links to."""
    parser = _TextAndLinks()
    parser.feed(html or "")
    parser.close()
    text = "".join(parser.parts)
    lines = [" ".join(ln.split()) for ln in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, parser.links


# -- threads and items ------------------------------------------------------------


def _thread_head(post: Post, by_key: dict[str, Post]) -> Post:
    seen = {post.key}
    current = post
    while True:
        nxt = None
        for ref in (current.parent, current.root):
            cand = by_key.get(ref) if ref else None
            if cand is not None and cand.key not in seen and cand.author == current.author:
                nxt = cand
                break
        if nxt is None:
            return current
        seen.add(nxt.key)
        current = nxt


def merge_threads(posts: list[Post]) -> list[Post]:
    """One post per self-thread: text joined oldest first, engagement summed, the root's URL and time.

    A reply whose parent is missing from the page falls back to the thread
    root when the network names it; if neither is present it stands alone.
    Posts seen twice (an own post and a repost of it) are kept once.
    """
    by_key: dict[str, Post] = {}
    order: list[Post] = []
    for p in posts:
        if p.key not in by_key:
            by_key[p.key] = p
            order.append(p)
    groups: dict[str, list[tuple[int, Post]]] = {}
    for index, p in enumerate(order):
        groups.setdefault(_thread_head(p, by_key).key, []).append((index, p))
    merged: list[Post] = []
    for p in order:
        members = groups.get(p.key)
        if members is None:
            continue
        if len(members) == 1:
            merged.append(p)
            continue
        members.sort(key=lambda ip: (ip[1].published_at, -ip[0]))
        chain = [m for _, m in members]
        engagement: dict[str, int] = {}
        links: list[str] = []
        for m in chain:
            for k, v in m.engagement.items():
                engagement[k] = engagement.get(k, 0) + v
            links.extend(u for u in m.links if u not in links)
        merged.append(
            Post(
                key=p.key,
                guid=p.guid,
                url=p.url,
                author=p.author,
                text="\n\n".join(m.text for m in chain if m.text),
                published_at=p.published_at,
                engagement=engagement,
                links=links,
                title=p.title,
            )
        )
    return merged


def to_item(post: Post, spec: SourceSpec) -> CollectedItem:
    return CollectedItem(
        source=spec.name,
        kind="post",
        guid=post.guid,
        url=canonicalize(post.url) if web_url(post.url) else None,  # never a javascript: or data: URL
        title=post.title or make_title(post.text, fallback=post.links[0] if post.links else post.url),
        text=post.text,
        author=post.author,
        published_at=post.published_at,
        engagement=dict(post.engagement),
        links=list(post.links),
    )


def build_items(posts: list[Post], spec: SourceSpec) -> list[CollectedItem]:
    """Merge self-threads and turn posts into items; replies to other people are left out
    ("@jt_lin congrats on the new job" is conversation, not news)."""
    return [to_item(p, spec) for p in merge_threads([p for p in posts if not p.reply_to_other])]


def malformed(warnings: list[str], index: int, exc: BaseException) -> None:
    """Record one skipped post so that editors see why a post is missing."""
    detail = f"missing {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
    warnings.append(one_line(f"skipped malformed post #{index}: {detail}"))


# -- I/O ---------------------------------------------------------------------------


def api_base(spec: SourceSpec, default: str) -> str:
    return (spec.base_url or default).rstrip("/")


async def fetch_json(fetcher: Fetcher, url: str, headers: Mapping[str, str] | None = None) -> Any:
    """GET and decode JSON, turning every failure into one `CollectError` line."""
    try:
        response = await fetcher.get(url, headers=dict(headers or {}))
    except FetchError as exc:
        raise CollectError(str(exc)) from exc
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise CollectError(f"invalid JSON ({url}): {exc}") from exc


def require_dict(payload: Any, what: str) -> dict:
    if not isinstance(payload, dict):
        raise CollectError(f"unexpected {what}: expected a JSON object, got {type(payload).__name__}")
    return payload


def finish(spec: SourceSpec, items: list[CollectedItem], warnings: list[str], since: datetime | None) -> SourceResult:
    """The ok result, without items older than `since` (APIs without a time filter still return them)."""
    if since is not None:
        since = as_utc(since)
        items = [it for it in items if it.published_at is None or it.published_at >= since]
    return SourceResult(source=spec.name, status="ok", items=items, warnings=warnings)


async def guarded(spec: SourceSpec, network: str, run: Callable[[], Awaitable[SourceResult]]) -> SourceResult:
    """Run a collector so that it never raises: failures become an error result with one clear line."""
    label = f"{network} {spec.handle}" if spec.handle else network
    try:
        return await run()
    except CollectError as exc:
        message = str(exc)
    except Exception as exc:  # a bug or a surprise in a payload must not stop the other sources
        message = f"{type(exc).__name__}: {exc}"
    return SourceResult(source=spec.name, status="error", error=one_line(f"{label}: {message}"))
