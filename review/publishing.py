"""Publishing a day: record it through the desk, write the static archive, tell the team.

`publish_day` is shared by the web app and `newsdesk publish`. Publishing a
day again is a correction: a new revision with a note, shown on the page and
in the feeds, under the same item id.
"""
from __future__ import annotations

import html as html_lib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from review import archive
from review.rendering import render_html, render_markdown
from storage import desk
from storage.db import Database
from storage.models import Digest, Publication, utcnow
from summarizer.lint import is_placeholder_view
from summarizer.render import view_body

log = logging.getLogger(__name__)


@dataclass
class PublishResult:
    day: str
    revision: int
    corrected: bool
    files: list[Path]
    url: str | None
    stories: int
    webhook_sent: bool | None = None  # None: no webhook configured
    webhook_error: str | None = None
    published_at: datetime | None = None
    notes: list[str] = field(default_factory=list)
    markdown: str = ""  # the digest as published (the publish flow's artifact)
    style: str = ""  # the style this publication went out in
    day_style: str = ""  # the day's own style (a --style override does not change it)


def correction_line(when: datetime, note: str) -> str:
    return f"Corrected on {when:%Y-%m-%d}: {note}"


def with_correction_md(markdown: str, line: str) -> str:
    """Put the correction right under the title, where readers look first."""
    lines = markdown.splitlines()
    block = ["", f"> **{line}**", ""]
    if lines and lines[0].startswith("# "):
        return "\n".join(lines[:1] + block + lines[1:]).rstrip() + "\n"
    return "\n".join(block[1:] + lines).rstrip() + "\n"


BACK_LINK = '<p class="back"><a href="index.html">Back to list</a></p>'


def finish_html(page: str, correction: str | None) -> str:
    """The day page gets a "Back to list" link to the index and, after a correction, the note."""
    extra = ""
    if 'href="index.html"' not in page and "href='index.html'" not in page:
        extra += BACK_LINK
    if correction:
        extra += f'<p class="correction"><strong>{html_lib.escape(correction)}</strong></p>'
    if not extra:
        return page
    m = re.search(r"<body[^>]*>", page, flags=re.I)
    if m:
        return page[: m.end()] + extra + page[m.end():]
    return extra + page


def _webhook(url: str, text: str, http_client: Any | None) -> None:
    import httpx2

    client = http_client or httpx2.Client(timeout=10.0)
    try:
        resp = client.post(url, json={"text": text})
        resp.raise_for_status()
    finally:
        if http_client is None:
            client.close()


def publish_day(
    db: Database,
    day: str,
    actor: str,
    out_dir: Path | str,
    *,
    style: str | None = None,
    note: str | None = None,
    site_url: str | None = None,
    webhook_url: str | None = None,
    http_client: Any | None = None,
) -> PublishResult:
    """Publish (or correct) a day's digest of approved stories and refresh the archive.

    Raises `storage.desk.InvalidAction` when no story is approved. A webhook
    failure is recorded in the result and the audit log; it never undoes a
    publication.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rendered: dict[str, str] = {}
    now = utcnow()
    with db.session() as s:
        earlier = s.scalar(
            select(func.count(Publication.id)).join(Digest, Digest.id == Publication.digest_id).where(Digest.day == day)
        ) or 0
        correction = correction_line(now, (note or "").strip() or "corrected") if earlier else None

        def render(data: desk.DigestData) -> str:
            unwritten = [e.story_id for e in data.entries if is_placeholder_view(e.view) or not view_body(e.view)]
            if unwritten:  # approval refuses these; this holds for drafts approved before that rule too
                raise desk.InvalidAction(f"cannot publish {day}: story {', '.join(map(str, unwritten))} has no "
                                         "written view (reopen it and write the view)")
            md = render_markdown(data, data.style)
            if correction:
                md = with_correction_md(md, correction)
            rendered["md"] = md
            rendered["html"] = finish_html(render_html(data, data.style), correction)
            return md

        pub = desk.publish(s, day, actor, render, style=style, note=(note or "").strip() or None)
        pub.html = rendered["html"]  # the page as published: the newsletter is built from it
        revision, stories, published_at = pub.revision, len(pub.story_ids), pub.published_at
        used_style, day_style = pub.style, desk.digest_data(s, day, approved_only=False).style
        md_path, html_path = out_dir / f"{day}.md", out_dir / f"{day}.html"
        archive.write_atomic(md_path, rendered["md"])
        archive.write_atomic(html_path, rendered["html"])
    with db.session() as s:
        files = [md_path, html_path] + archive.rebuild(s, out_dir, site_url)
    url = f"{site_url.rstrip('/')}/{day}.html" if site_url else None
    result = PublishResult(day=day, revision=revision, corrected=revision > 1, files=files, url=url,
                           stories=stories, published_at=published_at, markdown=rendered["md"],
                           style=used_style, day_style=day_style)
    if webhook_url:
        title = archive._heading(rendered["md"]) or f"AI news {day}"
        verb = f"Corrected ({(note or 'corrected').strip()})" if revision > 1 else "Published"
        text = f"{verb}: {title} — {stories} stories" + (f"\n{url}" if url else "")
        try:
            _webhook(webhook_url, text, http_client)
            result.webhook_sent = True
        except Exception as exc:  # the digest is out; a chat notice failing is worth a note, not a rollback
            result.webhook_sent, result.webhook_error = False, f"{exc.__class__.__name__}: {exc}"[:500]
            log.warning("publish webhook failed for %s: %s", day, result.webhook_error)
            with db.session() as s:
                desk.audit(s, actor, "digest.webhook_failed", "digest", day, None, {"error": result.webhook_error})
    return result
