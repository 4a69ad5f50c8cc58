"""The static archive around the day pages: index.html, feed.xml (Atom) and feed.json (JSON Feed 1.1).

Rebuilt whole from the database after every publication, so it is always
consistent and re-running it changes nothing. Item ids never change: a
correction updates an item's `updated` time, it does not add an item.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from review.archive_threads import write_thread_pages
from storage.desk import published_days

TEMPLATES = Path(__file__).parent / "templates" / "archive"
ATOM = "http://www.w3.org/2005/Atom"
FEED_LIMIT = 50


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
        out.append(
            ArchiveDay(
                day=dg.day,
                title=dg.title or _heading(last.markdown) or f"AI news · {dg.day}",
                markdown=last.markdown,
                first_published=pubs[0].published_at,
                updated=last.published_at,
                revision=last.revision,
                corrections=[(p.published_at, p.note or "corrected") for p in pubs[1:]],
                summary=_summary(last.markdown),
            )
        )
    return out


def item_id(day: str, site_url: str | None) -> str:
    """Stable per day forever: corrections keep it."""
    return f"{site_url.rstrip('/')}/{day}" if site_url else f"urn:newsdesk:digest:{day}"


def _url(site_url: str | None, name: str) -> str | None:
    return f"{site_url.rstrip('/')}/{name}" if site_url else None


def write_atomic(path: Path, text: str) -> None:
    """Readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def index_html(days: list[ArchiveDay], feed_title: str) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True))
    return env.get_template("index.html").render(days=days, title=feed_title)


def atom_feed(days: list[ArchiveDay], feed_title: str, site_url: str | None) -> str:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}id").text = _url(site_url, "") or "urn:newsdesk:digests"
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
        ET.SubElement(entry, f"{{{ATOM}}}title").text = d.title
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
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = summary
        ET.SubElement(entry, f"{{{ATOM}}}content", type="text").text = d.markdown
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
            "title": d.title,
            "content_text": d.markdown,
            "summary": d.summary,
            "date_published": d.first_published.isoformat(),
            "date_modified": d.updated.isoformat(),
        }
        if site_url:
            item["url"] = _url(site_url, f"{d.day}.html")
        if d.corrections:
            item["_newsdesk"] = {"revision": d.revision, "corrections": [{"at": w.isoformat(), "note": n} for w, n in d.corrections]}
        items.append(item)
    feed["items"] = items
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"


def rebuild(session: Session, out_dir: Path, site_url: str | None, feed_title: str = "AI news digest") -> list[Path]:
    days = collect(session)
    written = []
    for name, text in (
        ("index.html", index_html(days, feed_title)),
        ("feed.xml", atom_feed(days, feed_title, site_url)),
        ("feed.json", json_feed(days, feed_title, site_url)),
    ):
        path = out_dir / name
        write_atomic(path, text)
        written.append(path)
    written += write_thread_pages(session, out_dir, feed_title, write_atomic)
    return written
