"""Upper bounds on everything an editor can type, enforced by the desk rules for the web and the CLI alike.

Why: an unbounded field is a denial of service. A 1,000,000-character summary
made the story page take minutes to render (every page diffs the history)
and pinned a core. The limits are far above anything the house styles ask
for (a summary of 60-120 words, a view of a paragraph), so no real edit
meets them; the style linter is what flags a draft that is merely too long.
"""
from __future__ import annotations

from typing import Any, Mapping

LIMITS: dict[str, int] = {
    "headline": 300,
    "summary": 8_000,  # all sentences together
    "summary_sentences": 60,
    "sentence": 2_000,
    "view": 4_000,
    "tags": 30,
    "tag": 60,
    "section": 120,
    "reason": 2_000,  # a rejection reason
    "note": 2_000,  # a correction note, a note to the model
    "digest_title": 300,
    "digest_intro": 4_000,
}
LABELS = {
    "headline": "The headline", "summary": "The summary", "view": "The view", "section": "The section",
    "reason": "The reason", "note": "The note", "digest_title": "The digest's title", "digest_intro": "The digest's intro",
}


class TooLong(ValueError):
    """A field over its limit; the message says which, how long and the limit."""


def check_text(field: str, value: str | None) -> None:
    """TooLong when `value` has more characters than the limit of `field`."""
    limit = LIMITS[field]
    if value is not None and len(value) > limit:
        raise TooLong(f"{LABELS.get(field, field)} is {len(value):,} characters long; the limit is {limit:,}.")


def check_draft_changes(changes: Mapping[str, Any]) -> None:
    """Every editable draft field in `changes` within its limit."""
    for key in ("headline", "view", "section"):
        if key in changes:
            check_text(key, changes[key])
    if "summary" in changes:
        sentences = [str(s.get("text", "")) for s in changes["summary"] or []]
        if len(sentences) > LIMITS["summary_sentences"]:
            raise TooLong(f"The summary has {len(sentences)} sentences; the limit is {LIMITS['summary_sentences']}.")
        longest = max((len(s) for s in sentences), default=0)
        if longest > LIMITS["sentence"]:
            raise TooLong(f"A summary sentence is {longest:,} characters long; the limit is {LIMITS['sentence']:,}.")
        total = sum(len(s) for s in sentences)
        if total > LIMITS["summary"]:
            raise TooLong(f"The summary is {total:,} characters long; the limit is {LIMITS['summary']:,}.")
    if "tags" in changes:
        tags = [str(t) for t in changes["tags"] or []]
        if len(tags) > LIMITS["tags"]:
            raise TooLong(f"There are {len(tags)} tags; the limit is {LIMITS['tags']}.")
        if any(len(t) > LIMITS["tag"] for t in tags):
            raise TooLong(f"A tag is longer than {LIMITS['tag']} characters.")
