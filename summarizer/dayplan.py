"""The day's framing for the AI News Digest: a title, an intro paragraph and 3-5 section headings.

The house sample chooses these per day ("Safety work became unusually concrete", not a fixed
"Safety" bucket). Without an LLM this is the extractive default: stories grouped by their topic,
at most five groups (the smallest folded into "More stories"), each heading naming the day's
companies and products in it, the lead story's headline as the title, and an intro that says
what each of the first sections holds. Editors change all of it in the desk or the CLI.
Pure: no storage, no network.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from summarizer.extractive import section_for
from summarizer.lint import tag_entry, word_count

MAX_SECTIONS = 5
OTHER = "More stories"
INTRO_SECTIONS = 3


@dataclass
class PlanStory:
    """What the plan needs of one drafted story."""

    story_id: int
    rank: int
    headline: str
    tags: list[str] = field(default_factory=list)
    section: str | None = None  # an editor's own heading: kept as written, never re-planned


@dataclass
class DayPlan:
    title: str
    intro: str
    headings: dict[int, str]  # story id -> its section heading

    @property
    def sections(self) -> list[str]:
        return list(dict.fromkeys(self.headings.values()))


def _topic(story: PlanStory) -> str:
    """The story's group: an editor's heading as written, else the section of its topic tags."""
    return (story.section or "").strip() or section_for(story.tags)


def _entities(story: PlanStory) -> list[str]:
    """A story's company and product tags (vocabulary entities, or tags outside the topic vocabulary)."""
    out = []
    for t in dict.fromkeys(x.strip() for x in story.tags if x.strip()):
        entry = tag_entry(t)
        if entry is None or entry.kind != "topic":
            out.append(t)
    return out


def _names(stories: list[PlanStory], limit: int = 2) -> list[str]:
    """The group's names: each story's first name in rank order, then the names most stories share."""
    leads = list(dict.fromkeys(e[0] for e in map(_entities, stories) if e))
    counts = Counter(t for s in stories for t in _entities(s))
    rest = sorted((t for t in counts if t not in leads), key=lambda t: -counts[t])
    return (leads + rest)[:limit]


def _heading(topic: str, stories: list[PlanStory]) -> str:
    names = _names(stories)
    if not names or topic == OTHER or any((s.section or "").strip() == topic for s in stories):
        return topic
    return f"{topic}: {' and '.join(names)}"


def extractive_plan(stories: list[PlanStory]) -> DayPlan:
    """A sensible plan from the drafts alone (deterministic)."""
    ordered = sorted(stories, key=lambda s: (s.rank, s.story_id))
    if not ordered:
        return DayPlan(title="", intro="", headings={})
    groups: dict[str, list[PlanStory]] = {}
    for s in ordered:
        groups.setdefault(_topic(s), []).append(s)
    kept = [t for t in groups if t != OTHER][: MAX_SECTIONS - 1] if len(groups) > MAX_SECTIONS else list(groups)
    merged: dict[str, list[PlanStory]] = {t: groups[t] for t in kept}
    for t, members in groups.items():
        if t not in merged:
            merged.setdefault(OTHER, []).extend(members)
    headings: dict[int, str] = {}
    intro_parts: list[str] = []
    for topic, members in merged.items():
        heading = _heading(topic, members)
        for s in members:
            headings[s.story_id] = heading
        if topic != OTHER and len(intro_parts) < INTRO_SECTIONS:
            lead = members[0].headline.strip().rstrip(".")
            more = f" (and {len(members) - 1} more)" if len(members) > 1 else ""
            intro_parts.append(f"{topic}: {lead}{more}.")
    title = ordered[0].headline.strip().rstrip(".")
    if word_count(title) > 16:
        title = " ".join(title.split()[:16]) + "…"
    count = len(ordered)
    intro = f"{count} {'story' if count == 1 else 'stories'} today. " + " ".join(intro_parts)
    return DayPlan(title=title, intro=intro.strip(), headings=headings)
