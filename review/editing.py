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


# ---------------------------------------------------------------- one save path for the desk and the CLI


def save_edit(session: Any, story_id: int, actor: str, *, expected_version: int, headline: str, summary: str,
              view: str, tags: str, section: str) -> tuple[Any, dict[str, Any]]:
    """Apply an editor's text the way the desk does: only changed fields, re-linted and re-grounded,
    refused with `storage.desk.Conflict` when someone saved since `expected_version`.

    Returns (the story's queue row, the fields that changed); no change saves nothing.
    """
    from storage import desk

    detail = desk.get_story(session, story_id)
    changes = form_changes(detail, headline, summary, view, tags, section)
    if not changes and detail.row.version == expected_version:
        return detail.row, {}
    if "headline" in changes and not changes["headline"]:
        raise desk.InvalidAction("A story needs a headline.")
    violations = unsupported = None
    if detail.row.version == expected_version:  # a stale edit is refused by the desk; no need to check it
        violations, unsupported = recheck(detail, changes)
    row = desk.edit(session, story_id, actor, expected_version=expected_version, changes=changes,
                    violations=violations, unsupported=unsupported)
    return row, changes


# ---------------------------------------------------------------- the draft as one Markdown document (CLI editing)

DOC_SECTIONS = ("View", "Tags", "Section", "Sources")
_DOC_HEAD = re.compile(r"^##\s+(\w+)\s*$")


def draft_document(detail: StoryDetail, view_label: str) -> str:
    """The draft as a Markdown file an editor changes in $EDITOR; `parse_document` reads it back."""
    lines = [
        f"<!-- Story {detail.row.id}, version {detail.row.version} ({detail.row.status}). Edit the headline, the summary",
        "     (one sentence per line ending with its source numbers, e.g. [1][2]; an empty line starts a paragraph),",
        f"     the view (printed after \"{view_label}\", which you do not type), the tags and the section.",
        "     Save and quit to apply; an unchanged file changes nothing. The sources are for reference. -->",
        "",
        f"# {detail.row.headline}",
        "",
        summary_to_text(detail.summary, detail.sources),
        "",
        "## View",
        "",
        strip_view_opener(detail.view),
        "",
        "## Tags",
        "",
        ", ".join(detail.tags),
        "",
        "## Section",
        "",
        detail.section or "",
        "",
        "## Sources",
        "",
    ]
    lines += [f"[{n}] {s.outlet}: {s.title} <{s.url or '-'}>" for n, s in enumerate(detail.sources, start=1)]
    return "\n".join(lines).rstrip() + "\n"


class DocumentError(ValueError):
    """An edited draft file that cannot be read back, with the reason."""


def parse_document(text: str) -> dict[str, str]:
    """headline, summary, view, tags and section from a file written by `draft_document`."""
    text = re.sub(r"<!--.*?-->", "", text or "", flags=re.S)
    parts: dict[str, list[str]] = {"headline": [], "summary": []}
    current: str | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        head = _DOC_HEAD.match(line)
        if head and head.group(1).capitalize() in DOC_SECTIONS:
            current = head.group(1).lower()
            parts.setdefault(current, [])
            continue
        if current is None and line.startswith("# "):
            if parts["headline"]:
                raise DocumentError("the file has two headlines (lines starting with '# ')")
            parts["headline"].append(line[2:].strip())
            current = "summary"
            continue
        if current is None:
            if line.strip():
                raise DocumentError("the file must start with the headline, as '# Headline'")
            continue
        parts[current].append(line)
    if not parts["headline"]:
        raise DocumentError("the file has no headline (a line starting with '# ')")

    def block(name: str) -> str:
        return "\n".join(parts.get(name, [])).strip("\n")

    return {
        "headline": parts["headline"][0],
        "summary": block("summary"),
        "view": " ".join(block("view").split()),
        "tags": ", ".join(t.strip() for t in block("tags").replace("\n", ",").split(",") if t.strip()),
        "section": block("section").strip(),
    }
