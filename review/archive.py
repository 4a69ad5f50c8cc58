"""The static archive around the day pages: index.html, feed.xml (Atom) and feed.json (JSON Feed 1.1).

Rebuilt whole from the database after every publication, so it is always
consistent and re-running it changes nothing. Item ids never change: a
correction updates an item's `updated` time, it does not add an item, and
the id does not depend on NEWSDESK_SITE_URL, so setting the site URL later
does not make every reader see the whole archive again.
"""
from __future__ import annotations

import html as html_lib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from review import archive_pages
from review.archive_threads import write_thread_pages
from storage.desk import published_days
from storage.files import current_umask, write_atomically
from storage.models import Draft

TEMPLATES = Path(__file__).parent / "templates" / "archive"
ATOM = "http://www.w3.org/2005/Atom"
FEED_LIMIT = 50
# The masthead of each house style: the feed is titled like the page it stands for.
MASTHEADS = {"awesome-ai-daily": "Awesome AI Daily", "ai-news-digest": "AI News Digest"}
DEFAULT_MASTHEAD = "AI News Digest"


@dataclass
class ArchiveDay:
    day: str
    title: str
    markdown: str
    first_published: datetime
    updated: datetime
    revision: int
    corrections: list[tuple[datetime, str]]
    summary: str
    style: str = ""
    html: str | None = None  # the day page as published (None for pages published before it was kept)
    tags: list[str] = field(default_factory=list)
    headlines: list[tuple[str, list[str]]] = field(default_factory=list)  # (headline, tags) per story

    @property
    def entry_title(self) -> str:
        """Feed readers list entries by title alone: the date makes each day's entry tell apart."""
        return self.title if self.day in self.title else f"{self.title} · {self.day}"


def _heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        m = re.match(r"^#\s+(.+)$", line.strip())
        if m:
            return m.group(1).strip()
    return None


def _summary(markdown: str, limit: int = 280) -> str:
    """The first paragraph of prose: the intro, or the first story's opening."""
    for block in re.split(r"\n\s*\n", markdown):
        text = block.strip()
        if text and not text.startswith(("#", ">", "*By", "---", "[^", "- ")) and len(text) > 40:
            text = re.sub(r"\[\^\d+\]", "", text)
            text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
            text = " ".join(text.split())
            return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return ""


def collect(session: Session) -> list[ArchiveDay]:
    """Every published day, newest first, with its latest revision."""
    out = []
    for dg in published_days(session):
        pubs = list(dg.publications)
        if not pubs:
            continue
        last = pubs[-1]
        headlines = _headlines(session, list(last.story_ids or []))
        out.append(
            ArchiveDay(
                day=dg.day,
                title=dg.title or _heading(last.markdown) or f"{MASTHEADS.get(last.style, DEFAULT_MASTHEAD)} | {dg.day}",
                markdown=last.markdown,
                first_published=pubs[0].published_at,
                updated=last.published_at,
                revision=last.revision,
                corrections=[(p.published_at, p.note or "corrected") for p in pubs[1:]],
                summary=_summary(last.markdown),
                style=last.style,
                html=last.html,
                tags=_unique(t for _, tags in headlines for t in tags),
                headlines=headlines,
            )
        )
    return out


def _unique(values) -> list[str]:
    seen: dict[str, str] = {}
    for v in values:
        v = " ".join(str(v).split())
        if v and v.casefold() not in seen:
            seen[v.casefold()] = v
    return list(seen.values())


def _headlines(session: Session, story_ids: list[int]) -> list[tuple[str, list[str]]]:
    """Headline and tags of each published story, in the published order."""
    if not story_ids:
        return []
    drafts = {d.story_id: d for d in session.query(Draft).filter(Draft.story_id.in_(story_ids))}
    return [(drafts[i].headline, _unique(drafts[i].tags or [])) for i in story_ids if i in drafts]


def masthead(days: list[ArchiveDay]) -> str:
    """The feed's title: the masthead of the newest published day's house style."""
    return MASTHEADS.get(days[0].style, DEFAULT_MASTHEAD) if days else DEFAULT_MASTHEAD


_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)
_DROP = re.compile(r"<(script|style|nav)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_BACK = re.compile(r'<p class="back">.*?</p>', re.S)


def content_html(d: ArchiveDay) -> str:
    """The day page's body as an HTML fragment for feed readers: no page chrome, styles or links back."""
    if not d.html:
        return "<pre>" + html_lib.escape(d.markdown) + "</pre>"
    m = _BODY.search(d.html)
    body = m.group(1) if m else d.html
    body = _BACK.sub("", _DROP.sub("", body))
    return body.strip()


def item_id(day: str, site_url: str | None = None) -> str:
    """Stable per day forever: corrections keep it, and so does setting (or moving) the site URL."""
    return f"urn:newsdesk:digest:{day}"


def _url(site_url: str | None, name: str) -> str | None:
    return f"{site_url.rstrip('/')}/{name}" if site_url else None


def write_atomic(path: Path, text: str) -> None:
    """Readers never see a half-written file; a published file always gets 0666 less the umask
    (not an older copy's mode), so a web server running as another user can serve the archive."""
    write_atomically(path, text, mode=0o666 & ~current_umask())


def index_html(days: list[ArchiveDay], feed_title: str) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True))
    return env.get_template("index.html").render(days=days, title=feed_title, months=archive_pages.months(days),
                                                 tags=archive_pages.tag_pages(days), tag_file=archive_pages.tag_file,
                                                 month_file=archive_pages.month_file)


def atom_feed(days: list[ArchiveDay], feed_title: str, site_url: str | None) -> str:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}id").text = "urn:newsdesk:digests"  # like item ids: the site URL may come later
    ET.SubElement(feed, f"{{{ATOM}}}title").text = feed_title
    updated = max((d.updated for d in days), default=None)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = (updated.isoformat() if updated else "1970-01-01T00:00:00+00:00")
    if site_url:
        ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=_url(site_url, "feed.xml"))
        ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=_url(site_url, "index.html"))
    ET.SubElement(feed, f"{{{ATOM}}}generator").text = "newsdesk"
    for d in days[:FEED_LIMIT]:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = item_id(d.day, site_url)
        ET.SubElement(entry, f"{{{ATOM}}}title").text = d.entry_title
        ET.SubElement(entry, f"{{{ATOM}}}published").text = d.first_published.isoformat()
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = d.updated.isoformat()
        if site_url:
            ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=_url(site_url, f"{d.day}.html"))
        author = ET.SubElement(entry, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = feed_title
        summary = d.summary
        if d.corrections:
            when, note = d.corrections[-1]
            summary = f"Corrected on {when:%Y-%m-%d}: {note}. {summary}".strip()
        ET.SubElement(entry, f"{{{ATOM}}}summary", type="text").text = summary
        for tag in d.tags:
            ET.SubElement(entry, f"{{{ATOM}}}category", term=tag)
        ET.SubElement(entry, f"{{{ATOM}}}content", type="html").text = content_html(d)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def json_feed(days: list[ArchiveDay], feed_title: str, site_url: str | None) -> str:
    feed: dict = {"version": "https://jsonfeed.org/version/1.1", "title": feed_title, "language": "en"}
    if site_url:
        feed["home_page_url"] = _url(site_url, "index.html")
        feed["feed_url"] = _url(site_url, "feed.json")
    items = []
    for d in days[:FEED_LIMIT]:
        item = {
            "id": item_id(d.day, site_url),
            "title": d.entry_title,
            "content_html": content_html(d),
            "content_text": d.markdown,
            "summary": d.summary,
            "date_published": d.first_published.isoformat(),
            "date_modified": d.updated.isoformat(),
        }
        if site_url:
            item["url"] = _url(site_url, f"{d.day}.html")
        if d.tags:
            item["tags"] = d.tags
        if d.corrections:
            item["_newsdesk"] = {"revision": d.revision, "corrections": [{"at": w.isoformat(), "note": n} for w, n in d.corrections]}
        items.append(item)
    feed["items"] = items
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"


def rebuild(session: Session, out_dir: Path, site_url: str | None, feed_title: str | None = None) -> list[Path]:
    days = collect(session)
    feed_title = feed_title or masthead(days)
    written = []
    for name, text in (
        ("index.html", index_html(days, feed_title)),
        ("feed.xml", atom_feed(days, feed_title, site_url)),
        ("feed.json", json_feed(days, feed_title, site_url)),
    ):
        path = out_dir / name
        write_atomic(path, text)
        written.append(path)
    written += archive_pages.write_pages(days, out_dir, feed_title, write_atomic)
    written += write_thread_pages(session, out_dir, feed_title, write_atomic)
    return written
