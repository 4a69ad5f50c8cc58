"""Renderers: one list of stories, published in either house style as Markdown or HTML.

Both styles read the same `Digest`; style differences live here only. Everything that comes
from drafts or sources is untrusted: the HTML renderer escapes it (Jinja2 autoescape) and
links only http(s) URLs; the Markdown renderer neutralises tag-like `<` and only links
http(s) URLs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from jinja2 import Environment, FileSystemLoader, select_autoescape

from extractors.urls import web_url

from summarizer.lint import VIEW_OPENERS, paragraphs, strip_view_opener, style_rules
from summarizer.models import SourceDoc, StoryDraft

DEFAULT_SECTION = "More stories"
DIGEST_BRAND = "AI News Digest"
DAILY_BRAND = "Awesome AI Daily"

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class DigestStory:
    """One story as published; `sentences`/`citations` align, `summary_paragraphs` are their joins."""

    number: int
    headline: str
    summary_paragraphs: list[str]
    view: str = ""
    tags: list[str] = field(default_factory=list)
    sources: list[SourceDoc] = field(default_factory=list)
    citations: list[list[str]] = field(default_factory=list)  # source ids per summary sentence
    sentences: list[str] = field(default_factory=list)  # summary sentences in reading order
    section: str | None = None
    update_of: str | None = None  # e.g. "Update on 2026-05-10"


@dataclass
class Digest:
    day: date | str
    title: str | None
    intro: str | None
    stories: list[DigestStory]


def story_from_draft(
    draft: StoryDraft,
    sources: list[SourceDoc],
    number: int,
    *,
    update_of: str | None = None,
    section: str | None = None,
) -> DigestStory:
    """A publishable story from a draft; paragraphs follow the draft's `paragraph_break` marks."""
    sents = [s for s in draft.summary if (s.text or "").strip()]
    return DigestStory(
        number=number,
        headline=draft.headline.strip(),
        summary_paragraphs=[" ".join(s.text.strip() for s in p) for p in paragraphs(sents)],
        view=draft.view,
        tags=list(draft.tags),
        sources=list(sources),
        citations=[list(s.source_ids) for s in sents],
        sentences=[s.text.strip() for s in sents],
        section=section if section is not None else draft.section,
        update_of=update_of,
    )


# --- shared helpers -------------------------------------------------------------------------


def _day(value: date | str) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def iso_day(value: date | str) -> str:
    d = _day(value)
    return d.isoformat() if d else str(value)


def long_day(value: date | str) -> str:
    """"May 9, 2026", as in the AI News Digest byline."""
    d = _day(value)
    return f"{d.strftime('%B')} {d.day}, {d.year}" if d else str(value)


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def view_body(view: str) -> str:
    """The view without its opener, so each style can add its own."""
    return strip_view_opener(_ws(view))


TAG_LINE_MAX = 6  # the house sample's tag line: one line of about six names


def all_tags(stories: list[DigestStory], limit: int = TAG_LINE_MAX) -> list[str]:
    """The Awesome AI Daily tag line: at most `limit` tags, the day's names (companies, products,
    and tags outside the topic vocabulary) before generic topics, each group by how many stories
    carry it, then by first appearance; first spelling wins."""
    from summarizer.lint import tag_entry

    seen: dict[str, str] = {}
    stories_with: dict[str, int] = {}
    first: dict[str, int] = {}
    for s in stories:
        for t in dict.fromkeys(t.strip() for t in s.tags if t.strip()):
            key = re.sub(r"[\s\-_.]+", "", t.casefold())
            if key not in seen:
                seen[key], first[key] = t, len(first)
            stories_with[key] = stories_with.get(key, 0) + 1

    def is_topic(key: str) -> bool:
        entry = tag_entry(seen[key])
        return entry is not None and entry.kind == "topic"

    order = sorted(seen, key=lambda k: (is_topic(k), -stories_with[k], first[k]))
    return [seen[k] for k in order[:limit]]


def safe_url(url: str | None) -> str | None:
    """Only absolute http(s) URLs are linked; anything else (javascript:, data:) is dropped.

    The project's one URL policy (`extractors.urls.web_url`): the desk links through this too.
    """
    return web_url(url)


POST_NAMES = {"bluesky": "Bluesky post", "mastodon": "Mastodon post", "x": "𝕏 post", "threads": "Threads post"}
_NETWORK_HOSTS = (("bsky.app", "bluesky"), ("x.com", "x"), ("twitter.com", "x"), ("threads.net", "threads"),
                  ("news.ycombinator.com", "hackernews"), ("reddit.com", "reddit"))


def _network(doc: SourceDoc) -> str | None:
    """The network a post is from: its source's type, else what its URL says."""
    if doc.network:
        return {"twitter": "x"}.get(doc.network.lower(), doc.network.lower())
    parsed = urlparse(doc.url or "")
    host = parsed.netloc.lower().split(":")[0]
    for suffix, network in _NETWORK_HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return network
    if parsed.path.lstrip("/").startswith("@"):
        return "mastodon"
    return None


def _handle(doc: SourceDoc, network: str | None) -> str | None:
    """The author's @handle: the one the network gave, else the one in the post's URL."""
    author = _ws(doc.author or "")
    if author.startswith("@"):
        return author.split()[0]
    path = [p for p in urlparse(safe_url(doc.url) or "").path.split("/") if p]
    if network == "bluesky" and len(path) >= 2 and path[0] == "profile":
        return "@" + path[1]
    if network == "mastodon" and path and path[0].startswith("@"):
        return path[0]
    if network == "x" and path and path[0] not in ("i", "home", "search"):
        return "@" + path[0].lstrip("@")
    if author and " " not in author:
        return "@" + author
    outlet = (doc.outlet or "").strip()
    if outlet.startswith("@"):
        return outlet.split()[0]
    return None


def source_label(doc: SourceDoc) -> str:
    """Link text of a source: its title; a social post is credited to its author on its network
    ("Bluesky post by @handle", "𝕏 post by @handle"), a Hacker News or Reddit thread to its place."""
    if doc.kind != "post":
        return _ws(doc.title) or _ws(doc.outlet) or doc.id
    network = _network(doc)
    author = _ws(doc.author or "")
    if network == "hackernews":
        return "Hacker News thread" + (f" by {author}" if author else "")
    if network == "reddit":
        path = [p for p in urlparse(doc.url or "").path.split("/") if p]
        place = f"r/{path[1]}" if len(path) >= 2 and path[0] == "r" else (_ws(doc.outlet) or "Reddit")
        return f"{place} post" + (f" by {author}" if author else "")
    handle = _handle(doc, network)
    name = POST_NAMES.get(network or "", "post")
    if handle:
        return f"{name} by {handle}"
    return f"{name} on {_ws(doc.outlet)}" if _ws(doc.outlet) else (_ws(doc.title) or doc.id)


def _split_into_paragraphs(story: DigestStory) -> list[list[tuple[str, list[str]]]] | None:
    """Paragraphs as lists of (sentence, cited ids); None when sentences and paragraphs disagree."""
    cites = story.citations
    paras = [_ws(p) for p in story.summary_paragraphs if _ws(p)]
    if not story.sentences:  # no sentence split known: each paragraph is one unit
        if cites and len(cites) != len(paras):
            return None
        return [[(p, list(cites[i]) if cites else [])] for i, p in enumerate(paras)]
    if cites and len(cites) != len(story.sentences):
        return None
    cites = cites or [[] for _ in story.sentences]
    pairs = [(_ws(s), list(c)) for s, c in zip(story.sentences, cites) if _ws(s)]
    out: list[list[tuple[str, list[str]]]] = []
    i = 0
    for target in paras:
        group: list[tuple[str, list[str]]] = []
        while i < len(pairs):
            group.append(pairs[i])
            i += 1
            joined = _ws(" ".join(s for s, _ in group))
            if joined == target:
                break
            if not target.startswith(joined):
                return None
        else:
            return None
        out.append(group)
    return out if i == len(pairs) else None


class _Footnotes:
    """Footnote numbers across a whole digest: first citation order, a source keeps its number."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.docs: dict[str, SourceDoc] = {}

    def mark(self, ids: list[str], docs: dict[str, SourceDoc]) -> list[int]:
        out: list[int] = []
        for sid in ids:
            doc = docs.get(sid)
            if doc is None:  # cannot resolve, so no marker: every [^n] must have a definition
                continue
            if sid not in self.numbers:
                self.numbers[sid] = len(self.numbers) + 1
                self.docs[sid] = doc
            if self.numbers[sid] not in out:
                out.append(self.numbers[sid])
        return out

    def entries(self) -> list[tuple[int, SourceDoc]]:
        return sorted(((n, self.docs[sid]) for sid, n in self.numbers.items()), key=lambda x: x[0])


@dataclass
class _Sentence:
    text: str
    notes: list[int]


@dataclass
class _Para:
    sentences: list[_Sentence]


def _story_paragraphs(story: DigestStory, notes: _Footnotes | None) -> list[_Para]:
    """Summary paragraphs with footnote numbers attached per sentence (when `notes` is given)."""
    docs = {d.id: d for d in story.sources}
    grouped = _split_into_paragraphs(story)
    if grouped is None:
        # Paragraphs edited apart from their sentences: keep the text, cite the story's sources once.
        paras = [_Para([_Sentence(_ws(p), [])]) for p in story.summary_paragraphs if _ws(p)]
        if notes is not None and paras:
            ids = list(dict.fromkeys(sid for c in story.citations for sid in c))
            paras[-1].sentences[-1].notes = notes.mark(ids, docs)
        return paras
    return [_Para([_Sentence(s, notes.mark(c, docs) if notes is not None else []) for s, c in g]) for g in grouped]


def _sections(stories: list[DigestStory]) -> list[tuple[str, list[DigestStory]]]:
    """Themed sections in order of first appearance; stories without one go last under the default."""
    groups: dict[str, list[DigestStory]] = {}
    loose: list[DigestStory] = []
    for s in sorted(stories, key=lambda s: s.number):
        name = _ws(s.section or "")
        if name:
            groups.setdefault(name, []).append(s)
        else:
            loose.append(s)
    out = list(groups.items())
    if loose:
        if DEFAULT_SECTION in groups:
            groups[DEFAULT_SECTION].extend(loose)
        else:
            out.append((DEFAULT_SECTION, loose))
    return out


# --- Markdown -------------------------------------------------------------------------------

_TAGLIKE = re.compile(r"<(?=[A-Za-z/!?])")


def md_text(text: str) -> str:
    """Plain text made inert in Markdown: no raw HTML tags, no accidental footnote refs."""
    text = _TAGLIKE.sub("&lt;", _ws(text))
    return text.replace("[^", "[\\^")


def _md_link_text(text: str) -> str:
    return md_text(text).replace("[", "\\[").replace("]", "\\]")


def _md_url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def _with_markers(text: str, notes: list[int]) -> str:
    """Footnote markers go before the sentence's final punctuation, as in the house sample."""
    if not notes:
        return text
    marks = "".join(f"[^{n}]" for n in notes)
    if text and text[-1] in ".!?" and not text.endswith("..."):
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


def _render_awesome_md(digest: Digest) -> str:
    lines = [f"{DAILY_BRAND} | {iso_day(digest.day)}", ""]
    tags = all_tags(digest.stories)
    if tags:
        lines += [" · ".join(md_text(t) for t in tags), ""]
    if digest.intro and digest.intro.strip():
        lines += [md_text(digest.intro), ""]
    for story in sorted(digest.stories, key=lambda s: s.number):
        lines += [f"{story.number}. {md_text(story.headline)}", ""]
        if story.update_of:
            lines += [f"({md_text(story.update_of)})", ""]
        for p in _story_paragraphs(story, None):
            lines += [" ".join(md_text(s.text) for s in p.sentences), ""]
        body = view_body(story.view)
        if body:
            lines += [f"{style_rules('awesome-ai-daily').view_opener} {md_text(body)}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _render_digest_md(digest: Digest) -> str:
    title = _ws(digest.title or "") or DIGEST_BRAND
    lines = [f"# {md_text(title)}", "", f"*By {DIGEST_BRAND} • {long_day(digest.day)}*", ""]
    if digest.intro and digest.intro.strip():
        lines += [md_text(digest.intro), ""]
    notes = _Footnotes()
    opener = style_rules("ai-news-digest").view_opener
    for section, stories in _sections(digest.stories):
        lines += [f"## {md_text(section)}", ""]
        for story in stories:
            lines += [f"### {md_text(story.headline)}", ""]
            if story.update_of:
                lines += [f"*{md_text(story.update_of)}*", ""]
            for p in _story_paragraphs(story, notes):
                lines += [" ".join(_with_markers(md_text(s.text), s.notes) for s in p.sentences), ""]
            body = view_body(story.view)
            if body:
                lines += [f"*{opener}* {md_text(body)}", ""]
    entries = notes.entries()
    if entries:
        lines += ["---", "", "### Sources", ""]
        for n, doc in entries:
            label = _md_link_text(source_label(doc))
            url = safe_url(doc.url)
            lines.append(f"[^{n}]: [{label}]({_md_url(url)})" if url else f"[^{n}]: {label}")
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(digest: Digest, style: str) -> str:
    """The digest as Markdown in a house style ("awesome-ai-daily" or "ai-news-digest")."""
    style_rules(style)
    if style == "awesome-ai-daily":
        return _render_awesome_md(digest)
    return _render_digest_md(digest)


# --- HTML -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(digest: Digest, style: str) -> str:
    """A standalone, script-free HTML page of the digest; all draft and source text is escaped."""
    rules = style_rules(style)
    stories = sorted(digest.stories, key=lambda s: s.number)
    if style == "awesome-ai-daily":
        ctx = {
            "page_title": f"{DAILY_BRAND} | {iso_day(digest.day)}",
            "day": iso_day(digest.day),
            "tags": all_tags(stories),
            "intro": _ws(digest.intro or ""),
            "stories": [
                {"story": s, "paragraphs": _story_paragraphs(s, None), "view": view_body(s.view)}
                for s in stories
            ],
            "opener": rules.view_opener,
        }
        return _env().get_template("awesome_ai_daily.html.j2").render(**ctx)
    notes = _Footnotes()
    sections = []
    for name, group in _sections(stories):
        sections.append({
            "name": name,
            "stories": [
                {"story": s, "paragraphs": _story_paragraphs(s, notes), "view": view_body(s.view)}
                for s in group
            ],
        })
    sources = [
        {"n": n, "label": source_label(d), "url": safe_url(d.url), "outlet": _ws(d.outlet)}
        for n, d in notes.entries()
    ]
    title = _ws(digest.title or "") or DIGEST_BRAND
    ctx = {
        "page_title": title,
        "title": title,
        "byline": f"By {DIGEST_BRAND} • {long_day(digest.day)}",
        "intro": _ws(digest.intro or ""),
        "sections": sections,
        "sources": sources,
        "opener": rules.view_opener,
    }
    return _env().get_template("ai_news_digest.html.j2").render(**ctx)


__all__ = [
    "DEFAULT_SECTION",
    "Digest",
    "DigestStory",
    "VIEW_OPENERS",
    "render_html",
    "render_markdown",
    "source_label",
    "story_from_draft",
]
