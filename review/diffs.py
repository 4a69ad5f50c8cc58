"""A readable history: what each draft version changed, word by word."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

TOKENS = re.compile(r"\s+|[^\s]+")
FIELDS = (("status", "Status"), ("headline", "Headline"), ("summary", "Summary"), ("view", "View"), ("tags", "Tags"), ("section", "Section"))


@dataclass
class Piece:
    op: str  # same | del | ins
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


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[FieldChange]:
    """Fields that differ between two snapshots; everything non-empty for the first version."""
    out = []
    for key, label in FIELDS:
        new = field_text(after, key)
        if before is None:
            if new:
                out.append(FieldChange(label, [Piece("same", new)]))
            continue
        old = field_text(before, key)
        if old != new:
            out.append(FieldChange(label, word_diff(old, new)))
    return out


def history_view(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, each revision with its changes against the one before."""
    rows, prev = [], None
    for h in history:
        rows.append(h | {"changes": changes(prev, h.get("snapshot") or {})})
        prev = h.get("snapshot") or {}
    return list(reversed(rows))
