"""The digest in the house styles, through `summarizer.render`.

Preview and publishing both come through here, so what editors preview is
exactly what gets published. Until the real renderer is installed, a plain
fallback keeps the desk usable (and says so in its output).
"""
from __future__ import annotations

import html
from typing import Any

from storage.desk import DigestData

STYLES = {"awesome-ai-daily": "Awesome AI Daily", "ai-news-digest": "AI News Digest"}


def _renderer() -> Any | None:
    try:
        from summarizer import render
    except ImportError:
        return None
    return render


def renderer_available() -> bool:
    return _renderer() is not None


def to_render_digest(render: Any, data: DigestData) -> Any:
    """The renderer's `Digest` from the desk's data (drafts and sources in the shared contract)."""
    from summarizer.models import SourceDoc, StoryDraft

    stories = []
    for e in data.entries:
        draft = StoryDraft(headline=e.headline, summary=e.summary, view=e.view, tags=e.tags, section=e.section)
        docs = [
            SourceDoc(id=s.id, title=s.title, outlet=s.outlet, url=s.url, text=s.text, published_at=s.published_at,
                      kind=s.kind if s.kind in ("article", "post") else "article", author=s.author,
                      network=getattr(s, "network", None))
            for s in e.sources
        ]
        update_of = f"Update on {e.update_of}" if e.update_of else None
        stories.append(render.story_from_draft(draft, docs, e.number, update_of=update_of, section=e.section))
    return render.Digest(day=data.day, title=data.title, intro=data.intro, stories=stories)


def render_markdown(data: DigestData, style: str) -> str:
    render = _renderer()
    if render is None:
        return _fallback_markdown(data)
    return render.render_markdown(to_render_digest(render, data), style)


def render_html(data: DigestData, style: str) -> str:
    render = _renderer()
    if render is None:
        return _fallback_html(data)
    return render.render_html(to_render_digest(render, data), style)


def _title(data: DigestData) -> str:
    return data.title or f"AI news · {data.day}"


def _fallback_markdown(data: DigestData) -> str:
    lines = [f"# {_title(data)}", ""]
    if data.intro:
        lines += [data.intro, ""]
    for e in data.entries:
        lines += [f"## {e.number}. {e.headline}", "", " ".join(s.get("text", "") for s in e.summary), ""]
        if e.view:
            lines += [e.view, ""]
        for s in e.sources:
            lines.append(f"- [{s.title or s.outlet}]({s.url})" if s.url else f"- {s.title or s.outlet}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _fallback_html(data: DigestData) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(_title(data))}</title></head><body>",
             f"<h1>{esc(_title(data))}</h1>"]
    if data.intro:
        parts.append(f"<p>{esc(data.intro)}</p>")
    for e in data.entries:
        parts.append(f"<h2>{e.number}. {esc(e.headline)}</h2><p>{esc(' '.join(s.get('text', '') for s in e.summary))}</p>")
        if e.view:
            parts.append(f"<p><em>{esc(e.view)}</em></p>")
    parts.append("</body></html>")
    return "".join(parts)
