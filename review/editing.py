"""Turning the story form into a draft change, and re-checking the edited text.

The summary is edited as one sentence per line, each ending with the numbers
of the sources it rests on, e.g. "OpenAI released X. [1][3]"; an empty line
starts a new paragraph.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from storage.desk import SourceRef, StoryDetail
from summarizer.lint import strip_view_opener

log = logging.getLogger(__name__)

CITES = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+\s*$")
NUMBERS = re.compile(r"\d+")


def summary_to_text(summary: list[dict[str, Any]], sources: list[SourceRef]) -> str:
    number = {s.id: i for i, s in enumerate(sources, start=1)}
    lines = []
    for sent in summary:
        cites = "".join(f"[{number[sid]}]" for sid in sent.get("source_ids", []) if sid in number)
        lines.append(f"{sent.get('text', '').strip()} {cites}".rstrip())
        if sent.get("paragraph_break"):
            lines.append("")
    return "\n".join(lines).rstrip("\n")


def text_to_summary(text: str, sources: list[SourceRef]) -> list[dict[str, Any]]:
    """Parse the summary box; unknown source numbers are dropped rather than invented."""
    out = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line:
            if out:
                out[-1]["paragraph_break"] = True
            continue
        ids: list[str] = []
        m = CITES.search(line)
        if m:
            for n in NUMBERS.findall(m.group(0)):
                i = int(n)
                if 1 <= i <= len(sources) and sources[i - 1].id not in ids:
                    ids.append(sources[i - 1].id)
            line = line[: m.start()].rstrip()
        if line:
            out.append({"text": line, "source_ids": ids})
    if out:
        out[-1].pop("paragraph_break", None)
    return out


def parse_tags(text: str) -> list[str]:
    seen: list[str] = []
    for t in (text or "").split(","):
        t = t.strip()
        if t and t not in seen:
            seen.append(t)
    return seen


def form_changes(detail: StoryDetail, headline: str, summary: str, view: str, tags: str, section: str) -> dict[str, Any]:
    """Only the fields that actually changed, so history stays honest."""
    new = {
        "headline": headline.strip(),
        "summary": text_to_summary(summary, detail.sources),
        "view": strip_view_opener(view),  # a pasted label is dropped: the renderer prints it
        "tags": parse_tags(tags),
        "section": section.strip() or None,
    }
    old = {
        "headline": detail.row.headline,
        "summary": [{"text": s.get("text", ""), "source_ids": list(s.get("source_ids", []))}
                    | ({"paragraph_break": True} if s.get("paragraph_break") else {}) for s in detail.summary],
        "view": strip_view_opener(detail.view),
        "tags": detail.tags,
        "section": detail.section,
    }
    return {k: v for k, v in new.items() if v != old[k]}


def _dump(findings: Any) -> list[dict]:
    return [f.model_dump() if hasattr(f, "model_dump") else dict(f) for f in findings or []]


def recheck(detail: StoryDetail, changes: dict[str, Any]) -> tuple[list[dict] | None, list[dict] | None]:
    """Re-run the linter and the grounding checker on the edited draft, when they are installed.

    None means "not checked": the desk then keeps the earlier findings.
    """
    try:
        from summarizer.models import SourceDoc, StoryDraft
    except ImportError:  # pragma: no cover - the contract module ships with the package
        return None, None
    merged = {
        "headline": detail.row.headline,
        "summary": detail.summary,
        "view": detail.view,
        "tags": detail.tags,
        "section": detail.section,
    } | changes
    try:
        draft = StoryDraft(
            headline=merged["headline"] or "",
            summary=[{"text": s.get("text", ""), "source_ids": s.get("source_ids", []),
                      "paragraph_break": bool(s.get("paragraph_break"))} for s in merged["summary"]],
            view=merged["view"] or "",
            tags=merged["tags"] or [],
            section=merged["section"],
        )
        docs = [
            SourceDoc(id=s.id, title=s.title, outlet=s.outlet, url=s.url, text=s.text, published_at=s.published_at,
                      kind=s.kind if s.kind in ("article", "post") else "article")
            for s in detail.sources
        ]
    except Exception:  # a malformed old draft should not block saving
        log.exception("could not build a draft to re-check")
        return None, None
    violations = unsupported = None
    try:
        from summarizer.lint import lint
    except ImportError:
        lint = None
    if lint is not None:
        try:
            violations = _dump(lint(draft, detail.style))
        except Exception:
            log.exception("linter failed on story %s", detail.row.id)
    try:
        from summarizer.grounding import check_grounding
    except ImportError:
        check_grounding = None
    if check_grounding is not None:
        try:
            unsupported = _dump(check_grounding(draft, docs))
        except Exception:
            log.exception("grounding check failed on story %s", detail.row.id)
    return violations, unsupported
