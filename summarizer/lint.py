"""Style linter: checks a draft against a house style so editors see rule breaks, not just odd prose.

Conventions shared with the renderer and the drafters:

- `StoryDraft.view` holds the view's text only; the renderer puts the style's label
  ("Awesome AI View:" or "Why it matters:") in front, so editors never type it and one
  draft renders in both styles. Older drafts that kept a label still render: any known
  opener is stripped first.
- Summary paragraphs end at sentences whose `paragraph_break` is true.
- A view containing `VIEW_PLACEHOLDER` is the extractive drafter's stand-in; it yields a
  single `view.placeholder` violation instead of length/opener noise.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import yaml

from summarizer.models import StoryDraft, SummarySentence, Violation

DATA_DIR = Path(__file__).parent / "data"

VIEW_PLACEHOLDER = "[Editor: write the view — no LLM configured]"


@dataclass(frozen=True)
class StyleRules:
    """Limits of one house style; word ranges are inclusive (min, max)."""

    name: str
    view_opener: str
    headline_words: tuple[int, int]
    paragraph_words: tuple[int, int]
    summary_words: tuple[int, int]
    summary_sentences: tuple[int, int]
    max_paragraphs: int
    view_words: tuple[int, int]  # words after the opener
    tags: tuple[int, int]
    section_required: bool = False


# Ranges come from the house samples (headlines of 7-10 words in Awesome AI Daily,
# 9-16 in AI News Digest; paragraphs of 40-95 words; views of 55-90 and 15-45 words)
# with headroom on both sides so only clearly off-style drafts are flagged.
STYLE_RULES: dict[str, StyleRules] = {
    "awesome-ai-daily": StyleRules(
        name="Awesome AI Daily",
        view_opener="Awesome AI View:",
        headline_words=(4, 16),
        paragraph_words=(15, 130),
        summary_words=(25, 220),
        summary_sentences=(2, 8),
        max_paragraphs=2,
        view_words=(20, 130),
        tags=(1, 6),
    ),
    "ai-news-digest": StyleRules(
        name="AI News Digest",
        view_opener="Why it matters:",
        headline_words=(5, 22),
        paragraph_words=(12, 140),
        summary_words=(20, 220),
        summary_sentences=(1, 7),
        max_paragraphs=2,
        view_words=(8, 70),
        tags=(1, 6),
        section_required=True,
    ),
}

VIEW_OPENERS = tuple(r.view_opener for r in STYLE_RULES.values())

_WORD = re.compile(r"[\w$€£%][\w'’.,%$€£-]*")
_HTML = re.compile(r"</?[a-zA-Z][^>]*>|<!--|&(?:[a-zA-Z]+|#\d+);")
_MARKDOWN = re.compile(
    r"\*\*|__|`|\[[^\]]*\]\([^)]*\)|\[\^[^\]]*\]|^\s*#{1,6}\s|^\s*[-*+]\s|^\s*>\s|(?<!\w)\*[^*\s][^*]*\*(?!\w)|\]\("
)
_FIRST_PERSON = re.compile(r"\b(?:I|[Ww]e|WE|[Oo]ur|OUR|[Oo]urs|[Uu]s|[Mm]y|MY|[Mm]e|[Mm]yself|[Oo]urselves|I'm|I've|[Ww]e're|[Ww]e've|I’m|[Ww]e’re)\b")
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")


def style_rules(style: str) -> StyleRules:
    """The rules of a style; unknown styles are a programming error, not a lint finding."""
    try:
        return STYLE_RULES[style]
    except KeyError:
        raise ValueError(f"unknown style {style!r}; known styles: {', '.join(STYLE_RULES)}") from None


def word_count(text: str) -> int:
    return len(_WORD.findall(text or ""))


def paragraphs(summary: list[SummarySentence]) -> list[list[SummarySentence]]:
    """Group summary sentences into paragraphs at `paragraph_break` markers."""
    out: list[list[SummarySentence]] = [[]]
    for s in summary:
        out[-1].append(s)
        if getattr(s, "paragraph_break", False):
            out.append([])
    return [p for p in out if p]


def strip_view_opener(view: str) -> str:
    """The view without any known style opener (case-insensitive), for rendering and checks."""
    text = (view or "").strip()
    for opener in VIEW_OPENERS:
        if text.lower().startswith(opener.lower()):
            return text[len(opener):].strip()
    return text


def is_placeholder_view(view: str) -> bool:
    return VIEW_PLACEHOLDER in (view or "")


# --- data files ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Case-, quote- and width-insensitive form for phrase matching."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    return text.casefold()


@lru_cache(maxsize=None)
def banned_phrases() -> tuple[str, ...]:
    lines = (DATA_DIR / "banned_phrases.txt").read_text(encoding="utf-8").splitlines()
    return tuple(_fold(line.strip()) for line in lines if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=None)
def _banned_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((p, re.compile(r"(?<!\w)" + re.escape(p) + r"(?!\w)")) for p in banned_phrases())


def find_banned(text: str) -> list[str]:
    """Banned phrases present in `text`, in list order."""
    folded = _fold(text or "")
    return [p for p, rx in _banned_patterns() if rx.search(folded)]


def tag_key(tag: str) -> str:
    """Matching key of a tag: case, spaces, hyphens and dots do not matter."""
    return re.sub(r"[\s\-_.]+", "", _fold(tag))


@dataclass(frozen=True)
class TagEntry:
    name: str
    kind: str  # company | product | topic
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    section: str | None = None


@lru_cache(maxsize=None)
def tag_vocabulary() -> tuple[TagEntry, ...]:
    """Entries of `data/tags.yaml`, companies first, then products, then topics."""
    raw = yaml.safe_load((DATA_DIR / "tags.yaml").read_text(encoding="utf-8")) or {}
    entries: list[TagEntry] = []
    for group, kind in (("companies", "company"), ("products", "product"), ("topics", "topic")):
        for item in raw.get(group) or []:
            entries.append(TagEntry(
                name=item["name"],
                kind=kind,
                aliases=tuple(item.get("aliases") or ()),
                keywords=tuple(item.get("keywords") or ()),
                section=item.get("section"),
            ))
    return tuple(entries)


@lru_cache(maxsize=None)
def _tag_index() -> dict[str, TagEntry]:
    index: dict[str, TagEntry] = {}
    for e in tag_vocabulary():
        for spelling in (e.name, *e.aliases):
            index.setdefault(tag_key(spelling), e)
    return index


def canonical_tag(tag: str) -> str | None:
    """The vocabulary spelling of a tag, or None when it is not in the vocabulary."""
    entry = _tag_index().get(tag_key(tag))
    return entry.name if entry else None


def tag_entry(tag: str) -> TagEntry | None:
    return _tag_index().get(tag_key(tag))


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Canonical spellings, unknown tags kept as written, duplicates dropped, order kept."""
    out: list[str] = []
    seen: set[str] = set()
    for t in tags:
        name = canonical_tag(t) or t.strip()
        if name and tag_key(name) not in seen:
            seen.add(tag_key(name))
            out.append(name)
    return out


# --- rules --------------------------------------------------------------------------------


def _v(rule: str, message: str) -> Violation:
    return Violation(rule=rule, message=message)


def _range_check(rule: str, what: str, n: int, bounds: tuple[int, int], unit: str = "words") -> list[Violation]:
    lo, hi = bounds
    count = f"{n} {unit[:-1] if n == 1 and unit.endswith('s') else unit}"  # "1 sentence", not "1 sentences"
    if n < lo:
        return [_v(rule, f"{what} is too short: {count}, the style wants at least {lo}.")]
    if n > hi:
        return [_v(rule, f"{what} is too long: {count}, the style allows at most {hi}.")]
    return []


def has_markup(text: str) -> bool:
    """Markdown or HTML in a field: the renderers add all formatting themselves."""
    return bool(_HTML.search(text or "") or _MARKDOWN.search(text or ""))


def first_person(text: str) -> list[str]:
    """First-person words outside quotations (a quoted CEO may say "we")."""
    unquoted = _QUOTED.sub(" ", text or "")
    return [m.group(0) for m in _FIRST_PERSON.finditer(unquoted)]


def _check_headline(draft: StoryDraft, rules: StyleRules) -> list[Violation]:
    h = (draft.headline or "").strip()
    if not h:
        return [_v("headline.missing", "The story has no headline.")]
    out = _range_check("headline.length", "The headline", word_count(h), rules.headline_words)
    if h.endswith(".") and not h.endswith("..."):
        out.append(_v("headline.period", "The headline ends with a period; headlines take no final period."))
    if has_markup(h):
        out.append(_v("headline.markup", "The headline contains Markdown or HTML; write plain text."))
    return out


def _check_summary(draft: StoryDraft, rules: StyleRules) -> list[Violation]:
    sentences = [s for s in draft.summary if (s.text or "").strip()]
    if not sentences:
        return [_v("summary.missing", "The story has no summary.")]
    out: list[Violation] = []
    out += _range_check("summary.sentences", "The summary", len(sentences), rules.summary_sentences, "sentences")
    total = sum(word_count(s.text) for s in sentences)
    out += _range_check("summary.length", "The summary", total, rules.summary_words)
    paras = paragraphs(sentences)
    if len(paras) > rules.max_paragraphs:
        out.append(_v("summary.paragraphs",
                      f"The summary has {len(paras)} paragraphs; the style allows at most {rules.max_paragraphs}."))
    if len(paras) > 1:  # a single paragraph is bounded by the total already
        for i, p in enumerate(paras, 1):
            n = sum(word_count(s.text) for s in p)
            out += _range_check("summary.paragraph_length", f"Summary paragraph {i}", n, rules.paragraph_words)
    for i, s in enumerate(sentences, 1):
        words = first_person(s.text)
        if words:
            out.append(_v("summary.first_person",
                          f"Summary sentence {i} uses the first person ({', '.join(dict.fromkeys(words))}); "
                          "summaries report, they do not speak for the newsroom."))
        if has_markup(s.text):
            out.append(_v("summary.markup", f"Summary sentence {i} contains Markdown or HTML; write plain text."))
        if not [sid for sid in s.source_ids if sid and sid.strip()]:
            out.append(_v("summary.citation", f"Summary sentence {i} cites no source."))
    return out


def _check_view(draft: StoryDraft, rules: StyleRules) -> list[Violation]:
    """The view is checked without its label: the renderer prints the style's opener, editors never type it."""
    view = (draft.view or "").strip()
    if is_placeholder_view(view):
        return [_v("view.placeholder", "The view is still the placeholder; an editor has to write it.")]
    body = strip_view_opener(view)
    if not body:
        return [_v("view.missing", f"The story has no view (printed after \"{rules.view_opener}\").")]
    out = _range_check("view.length", "The view", word_count(body), rules.view_words)
    if has_markup(body):
        out.append(_v("view.markup", "The view contains Markdown or HTML; write plain text."))
    return out


def _check_banned(draft: StoryDraft) -> list[Violation]:
    fields = [("headline", draft.headline), ("summary", draft.summary_text()), ("view", draft.view)]
    out: list[Violation] = []
    for name, text in fields:
        for phrase in find_banned(text or ""):
            out.append(_v("banned_phrase", f"The {name} uses the filler phrase \"{phrase}\"; say something specific."))
    return out


def _check_tags(draft: StoryDraft, rules: StyleRules) -> list[Violation]:
    tags = [t for t in draft.tags if t and t.strip()]
    out = _range_check("tags.count", "The tag list", len(tags), rules.tags, "tags")
    seen: set[str] = set()
    for t in tags:
        key = tag_key(t)
        if canonical_tag(t) is None:
            out.append(_v("tags.unknown", f"The tag \"{t}\" is not in the tag vocabulary; pick a listed tag or add it there."))
        elif key in seen or tag_key(canonical_tag(t) or t) in seen:
            out.append(_v("tags.duplicate", f"The tag \"{t}\" is listed twice."))
        seen.update({key, tag_key(canonical_tag(t) or t)})
        if has_markup(t):
            out.append(_v("tags.markup", f"The tag \"{t}\" contains Markdown or HTML."))
    return out


def _check_section(draft: StoryDraft, rules: StyleRules) -> list[Violation]:
    section = (draft.section or "").strip()
    if rules.section_required and not section:
        return [_v("section.missing", f"{rules.name} groups stories under themed sections; this story has none.")]
    if section and has_markup(section):
        return [_v("section.markup", "The section heading contains Markdown or HTML.")]
    return []


def lint(draft: StoryDraft, style: str) -> list[Violation]:
    """Every house-style rule the draft breaks, in reading order (headline, summary, view, tags)."""
    rules = style_rules(style)
    return (
        _check_headline(draft, rules)
        + _check_summary(draft, rules)
        + _check_view(draft, rules)
        + _check_banned(draft)
        + _check_tags(draft, rules)
        + _check_section(draft, rules)
    )


def lint_digest(drafts: list[StoryDraft], style: str, *, max_stories: int = 15) -> list[Violation]:
    """Digest-level rules: stories present, not too many, no repeated headlines or near-identical stories."""
    style_rules(style)
    out: list[Violation] = []
    if not drafts:
        return [_v("digest.empty", "The digest has no stories.")]
    if len(drafts) > max_stories:
        out.append(_v("digest.length", f"The digest has {len(drafts)} stories; keep it to {max_stories} or fewer."))
    seen: dict[str, int] = {}
    for i, d in enumerate(drafts, 1):
        key = re.sub(r"\W+", " ", _fold(d.headline)).strip()
        if key in seen:
            out.append(_v("digest.duplicate_headline", f"Stories {seen[key]} and {i} have the same headline."))
        else:
            seen[key] = i
    for i, a in enumerate(drafts, 1):
        ids_a = {sid for s in a.summary for sid in s.source_ids}
        for j, b in enumerate(drafts[i:], i + 1):
            ids_b = {sid for s in b.summary for sid in s.source_ids}
            if ids_a and ids_a == ids_b:
                out.append(_v("digest.duplicate_story", f"Stories {i} and {j} cite exactly the same sources; merge them."))
    return out
