"""A readable history: what each draft version changed, line by line.

Each field is shown as its old lines (struck out) then its new lines, with
unchanged lines between them; the summary is one sentence per line, so a
changed sentence reads as before/after rather than interleaved words.
Field sizes are capped (storage.limits), and a diff whose line pairs would
be many is shown as "all old, then all new", so the page stays linear.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

TOKENS = re.compile(r"\s+|[^\s]+")
FIELDS = (("status", "Status"), ("headline", "Headline"), ("summary", "Summary"), ("view", "View"), ("tags", "Tags"), ("section", "Section"))


@dataclass
class Piece:
    op: str  # same | del | ins | fold (a run of unchanged lines, summarised)
    text: str


@dataclass
class FieldChange:
    label: str
    pieces: list[Piece]


def field_text(snapshot: dict[str, Any], key: str) -> str:
    value = snapshot.get(key)
    if key == "summary":
        return "\n".join(s.get("text", "") if isinstance(s, dict) else str(s) for s in value or [])
    if key == "tags":
        return ", ".join(str(t) for t in value or [])
    return "" if value is None else str(value)


def word_diff(old: str, new: str) -> list[Piece]:
    a, b = TOKENS.findall(old), TOKENS.findall(new)
    pieces: list[Piece] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(Piece("del", "".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(Piece("ins", "".join(b[j1:j2])))
    return pieces


MAX_PAIRS = 40_000  # old lines x new lines above which we skip alignment (remove all, add all)
CONTEXT = 2  # unchanged lines kept around a change; longer runs fold into one line


def _lines(text: str) -> list[str]:
    return text.split("\n") if text else []


def line_diff(old: str, new: str) -> list[Piece]:
    """Old and new as whole lines: `del` lines, `ins` lines, and a little unchanged context (`same`/`fold`)."""
    a, b = _lines(old), _lines(new)
    if len(a) * len(b) > MAX_PAIRS:
        return [Piece("del", x) for x in a] + [Piece("ins", x) for x in b]
    pieces: list[Piece] = []
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for n, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            same = a[i1:i2]
            head = same[:CONTEXT] if n > 0 else []
            tail = same[-CONTEXT:] if n < len(opcodes) - 1 else []
            if len(same) <= len(head) + len(tail):
                pieces += [Piece("same", x) for x in same]
            else:
                pieces += [Piece("same", x) for x in head]
                pieces.append(Piece("fold", f"… {len(same) - len(head) - len(tail)} unchanged line(s)"))
                pieces += [Piece("same", x) for x in tail]
            continue
        pieces += [Piece("del", x) for x in a[i1:i2]]
        pieces += [Piece("ins", x) for x in b[j1:j2]]
    return pieces


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[FieldChange]:
    """Fields that differ between two snapshots; everything non-empty for the first version."""
    out = []
    for key, label in FIELDS:
        new = field_text(after, key)
        if before is None:
            if new:
                out.append(FieldChange(label, [Piece("same", x) for x in _lines(new)]))
            continue
        old = field_text(before, key)
        if old != new:
            out.append(FieldChange(label, line_diff(old, new)))
    return out


def history_view(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, each revision with its changes against the one before."""
    rows, prev = [], None
    for h in history:
        rows.append(h | {"changes": changes(prev, h.get("snapshot") or {})})
        prev = h.get("snapshot") or {}
    return list(reversed(rows))
