"""Ways through the archive besides the index: previous/next day on each day page, month pages, tag pages.

Built from the same `ArchiveDay` list as the index and the feeds, on every
rebuild, so a new day also gives yesterday's page its "next day" link. Day
pages are rewritten from the HTML kept with the publication, so the links are
added once, never stacked; days published before that HTML was kept keep
their file as it is.
"""
from __future__ import annotations

import html as html_lib
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates" / "archive"
NAV_CLASS = "archive-nav"


@dataclass
class TagPage:
    name: str
    slug: str
    entries: list[tuple[str, str]]  # (day, headline), newest first


def tag_slug(tag: str) -> str:
    """A file-name-safe, case-folded slug: "Open Models" and "open models" share one page."""
    slug = re.sub(r"[^\w]+", "-", tag.casefold(), flags=re.UNICODE).strip("-")
    return slug or "tag"


def tag_file(tag: str) -> str:
    return f"tag-{tag_slug(tag)}.html"


def month_of(day: str) -> str:
    return day[:7]


def month_label(month: str) -> str:
    return date.fromisoformat(f"{month}-01").strftime("%B %Y")


def month_file(month: str) -> str:
    return f"{month}.html"


def months(days: Iterable) -> list[tuple[str, str, int]]:
    """(month, label, number of days), newest first."""
    counts: dict[str, int] = defaultdict(int)
    for d in days:
        counts[month_of(d.day)] += 1
    return [(m, month_label(m), counts[m]) for m in sorted(counts, reverse=True)]


def tag_pages(days: Iterable) -> list[TagPage]:
    pages: dict[str, TagPage] = {}
    for d in days:
        for headline, tags in d.headlines:
            for tag in tags:
                page = pages.setdefault(tag_slug(tag), TagPage(name=tag, slug=tag_slug(tag), entries=[]))
                page.entries.append((d.day, headline))
    return sorted(pages.values(), key=lambda p: p.name.casefold())


def day_nav(days: list, i: int) -> str:
    """The links at the top of a day page; `days` is newest first, so the next day is at i - 1."""
    d = days[i]
    esc = html_lib.escape
    parts = []
    if i + 1 < len(days):
        prev = days[i + 1].day
        parts.append(f'<a rel="prev" href="{prev}.html">← {prev}</a>')
    month = month_of(d.day)
    parts.append(f'<a href="{month_file(month)}">{esc(month_label(month))}</a>')
    if i > 0:
        nxt = days[i - 1].day
        parts.append(f'<a rel="next" href="{nxt}.html">{nxt} →</a>')
    line = " · ".join(parts)
    tags = " ".join(f'<a class="tag" href="{esc(tag_file(t))}">{esc(t)}</a>' for t in d.tags)
    return (f'<nav class="{NAV_CLASS}" style="font:14px/1.6 system-ui,sans-serif;margin:.5rem 0 1rem">'
            f'<span class="days">{line}</span>' + (f'<br><span class="tags">Tags: {tags}</span>' if tags else "") + "</nav>")


def with_nav(page: str, nav: str) -> str:
    """The page as published, with the navigation right after <body>."""
    m = re.search(r"<body[^>]*>", page, flags=re.I)
    return page[: m.end()] + nav + page[m.end():] if m else nav + page


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True))


def write_pages(days: list, out_dir: Path, title: str, write: Callable[[Path, str], None]) -> list[Path]:
    """Rewrite day pages with their navigation and write the month and tag pages; drop tag pages gone stale."""
    written: list[Path] = []
    for i, d in enumerate(days):
        if d.html:
            path = out_dir / f"{d.day}.html"
            write(path, with_nav(d.html, day_nav(days, i)))
            written.append(path)
    env = _env()
    for month, label, _ in months(days):
        in_month = [d for d in days if month_of(d.day) == month]
        path = out_dir / month_file(month)
        write(path, env.get_template("month.html").render(title=title, label=label, days=in_month))
        written.append(path)
    pages = tag_pages(days)
    for page in pages:
        path = out_dir / tag_file(page.name)
        write(path, env.get_template("tag.html").render(title=title, tag=page))
        written.append(path)
    keep = {tag_file(p.name) for p in pages}
    for stale in out_dir.glob("tag-*.html"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return written
