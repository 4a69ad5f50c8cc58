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
from typing import Any, Callable

from pydantic import BaseModel

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
    if len(groups) > MAX_SECTIONS:  # keep the biggest groups (then the best-ranked); the rest share "More stories"
        best = sorted((t for t in groups if t != OTHER), key=lambda t: (-len(groups[t]), list(groups).index(t)))
        kept = [t for t in groups if t in best[: MAX_SECTIONS - 1]]
    else:
        kept = list(groups)
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


# ---------------------------------------------------------------- with an LLM

PROMPT_VERSION = "dayplan-1"


class _Section(BaseModel):
    heading: str
    story_ids: list[int]


class DayFraming(BaseModel):
    """What the model is asked for: the AI News Digest's framing of one day."""

    title: str
    intro: str
    sections: list[_Section]


def _check(stories: list[PlanStory]) -> Callable[[DayFraming], None]:
    ids = {s.story_id for s in stories}
    wanted = (min(3, len(stories)), MAX_SECTIONS)

    def validate(f: DayFraming) -> None:
        from summarizer.llm import LLMInvalidOutput

        placed = [i for sec in f.sections for i in sec.story_ids]
        if not f.title.strip() or word_count(f.title) > 16:
            raise LLMInvalidOutput("the title must be one line of at most 16 words")
        if not 20 <= word_count(f.intro) <= 90:
            raise LLMInvalidOutput("the intro must be one paragraph of 20 to 90 words")
        if not wanted[0] <= len(f.sections) <= wanted[1] or any(not s.heading.strip() for s in f.sections):
            raise LLMInvalidOutput(f"give {wanted[0]} to {wanted[1]} sections, each with a heading")
        if sorted(placed) != sorted(ids):
            raise LLMInvalidOutput("place every story id exactly once, and no other id")

    return validate


def framing_messages(stories: list[PlanStory], day: str) -> list[dict[str, str]]:
    lines = [f"- id {s.story_id}: {s.headline}" + (f" [{', '.join(s.tags)}]" if s.tags else "")
             for s in sorted(stories, key=lambda s: (s.rank, s.story_id))]
    return [
        {"role": "system", "content": (
            "You edit the AI News Digest. For one day's stories, write: a themed title (one line, at most 16 "
            "words, about what the day's news adds up to); an intro paragraph of 30 to 80 words that says what "
            "happened and why it matters, using only the headlines given; and 3 to 5 descriptive section "
            "headings chosen for this day (a short sentence about the group, e.g. 'Safety work became "
            "unusually concrete', not a bare category), each listing the ids of its stories. Every story goes "
            "in exactly one section; order sections and stories by importance. Reply with JSON only.")},
        {"role": "user", "content": f"Day: {day}\nStories, most important first:\n" + "\n".join(lines)},
    ]


async def llm_plan(llm: Any, stories: list[PlanStory], day: str, records: list | None = None) -> DayPlan:
    """The model's framing of the day, validated; editors' own headings are kept. Raises DraftingError."""
    framing = await llm.generate(framing_messages(stories, day), DayFraming, prompt_version=PROMPT_VERSION,
                                 purpose="dayplan", records=records, validate=_check(stories))
    fixed = {s.story_id: s.section.strip() for s in stories if (s.section or "").strip()}
    headings = {i: fixed.get(i, sec.heading.strip()) for sec in framing.sections for i in sec.story_ids}
    return DayPlan(title=framing.title.strip(), intro=" ".join(framing.intro.split()), headings=headings)
