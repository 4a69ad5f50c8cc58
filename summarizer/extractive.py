"""Extractive drafter: a usable, fully sourced draft when no LLM is configured.

Every summary sentence is copied verbatim from one source and cites it, so the grounding
check passes by construction; the view is left to the editor (`VIEW_PLACEHOLDER`).
Deterministic: the same story always gives the same draft.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from summarizer.lint import (
    DATA_DIR,
    VIEW_PLACEHOLDER,
    find_banned,
    first_person,
    has_markup,
    style_rules,
    tag_vocabulary,
    word_count,
)
from summarizer.models import SourceDoc, StoryDraft, StoryInput, SummarySentence

MAX_SENTENCES = 4
MIN_SENTENCES = 2
SUMMARY_WORDS = (60, 120)  # the house samples' summaries: one or two written paragraphs of this length
_DEFAULT_TOPIC = "Industry"
_DEFAULT_SECTION = "More stories"

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "inc", "ltd", "co", "corp", "vs", "etc", "no",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "gov", "sen",
    "rep", "gen", "u.s", "u.k", "e.g", "i.e", "approx", "est", "fig",
}
_SPLIT = re.compile(r"(?<=[.!?])([\"”’)]*)\s+(?=[\"“‘(]?[A-Z0-9$€£])")
_BOILERPLATE = re.compile(
    r"https?://|www\.|©|\ball rights reserved\b|\bsubscribe\b|\bnewsletter\b|\bsign up\b|\bclick\b|"
    r"\bread more\b|\bcookie|\badvertisement\b|\bfollow us\b|\bcopyright\s+(?:©\s*)?\d{4}",
    re.IGNORECASE,
)
# "SAN JOSE, Calif. (Wirepoint) — ", "LONDON (Reuters) - ", "(Wirepoint) — ": where and who filed it, not the news
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Z.'-]+(?:\s+[A-Z][A-Z.'-]+)*(?:,\s*[A-Z][A-Za-z.]*)?\s*)?(?:\(\s*[A-Z][\w .&'-]{0,40}\)\s*)?[—–-]{1,2}\s+"
)
_PRONOUN_START = re.compile(r"^(?:It|This|That|These|Those|He|She|They|His|Her|Its|Their|But|And|Also|So)\b")
# "Released under Apache-2.0, it runs ...": a pronoun subject after an opening phrase still needs an antecedent
_PRONOUN_CLAUSE = re.compile(r"^[^,;:]{0,80},\s+(?:it|they|he|she|this|these)\s", re.IGNORECASE)
_UNNAMED_LEAD = re.compile(r"^(?:The|A|An|Its|Unusually|Meanwhile|However)\b(?:\s+[a-z][\w'-]*)*[\s,]")
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'-]*")


def strip_dateline(sentence: str) -> str:
    """The sentence without a leading dateline or agency tag; unchanged when it has none."""
    m = _DATELINE.match(sentence)
    if not m or not m.group(0).strip(" —–-"):
        return sentence
    rest = sentence[m.end():]
    return rest if re.match(r"^[\"“‘(]?[A-Z0-9$€£]", rest) else sentence


def placeholder_view(style: str) -> str:
    """The view stand-in (the renderer adds the style's label in front of it)."""
    return VIEW_PLACEHOLDER


def split_sentences(text: str) -> list[str]:
    """Sentences of a text; abbreviations ("Mr.", "U.S.", "Nov.") and initials do not end one."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n", text or ""):
        para = re.sub(r"\s+", " ", para).strip()
        if not para:
            continue
        pieces: list[str] = []
        last = 0
        for m in _SPLIT.finditer(para):
            end = m.end(1)
            candidate = para[last:end]
            prev = re.search(r"([\w.]+)[.!?][\"”’)]*$", candidate)
            word = prev.group(1).lower() if prev else ""
            if word in _ABBREV or re.fullmatch(r"[a-z]", word):
                continue
            pieces.append(candidate.strip())
            last = m.end()
        pieces.append(para[last:].strip())
        out.extend(p for p in pieces if p)
    return out


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    lines = (DATA_DIR / "common_words.txt").read_text(encoding="utf-8").splitlines()
    extra = {"said", "says", "say", "would", "also", "year", "years", "company", "new"}
    return frozenset({w.strip() for w in lines if w.strip() and not w.startswith("#")} | extra)


def _tokens(text: str) -> list[str]:
    stop = _stopwords()
    return [t for t in _TOKEN.findall(text.lower().replace("’", "'")) if len(t) > 2 and t not in stop]


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


@dataclass
class _Candidate:
    text: str
    doc_index: int
    doc_id: str
    position: int
    vector: dict[str, float]
    words: int
    score: float = 0.0


def _clean_ok(sentence: str, strict: bool) -> bool:
    """Whether a source sentence can stand in a summary as it is."""
    words = word_count(sentence)
    if strict and not 8 <= words <= 45:
        return False
    if not strict and not 4 <= words <= 60:
        return False
    if not re.match(r"^[\"“‘(]?[A-Z0-9$€£]", sentence) or not re.search(r"[.!?][\"”’)]*$", sentence):
        return False
    if _BOILERPLATE.search(sentence) or has_markup(sentence) or find_banned(sentence) or first_person(sentence):
        return False
    if sentence.count("“") != sentence.count("”") or sentence.count('"') % 2:
        return False
    return True


def _vectorize(texts: list[str]) -> list[dict[str, float]]:
    """TF-IDF vectors over the story's own sentences (no outside corpus: stays deterministic)."""
    toks = [_tokens(t) for t in texts]
    df = Counter(t for ts in toks for t in set(ts))
    n = max(len(texts), 1)
    out = []
    for ts in toks:
        tf = Counter(ts)
        out.append({t: (1 + math.log(c)) * (math.log((1 + n) / (1 + df[t])) + 1) for t, c in tf.items()})
    return out


def _centroid(vectors: list[dict[str, float]]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for v in vectors:
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        for k, x in v.items():
            total[k] += x / norm
    return dict(total)


def _candidates(docs: list[SourceDoc], strict: bool) -> list[_Candidate]:
    raw: list[tuple[str, int, str, int]] = []
    seen: set[str] = set()
    for di, doc in enumerate(docs):
        for pos, sent in enumerate(split_sentences(doc.text)):
            sent = strip_dateline(sent)
            key = re.sub(r"\W+", " ", sent.lower()).strip()
            if key in seen or not _clean_ok(sent, strict):
                continue
            seen.add(key)
            raw.append((sent, di, doc.id, pos))
    vectors = _vectorize([r[0] for r in raw])
    return [_Candidate(s, di, sid, pos, v, word_count(s)) for (s, di, sid, pos), v in zip(raw, vectors)]


def _score(cands: list[_Candidate], docs: list[SourceDoc], previous: str | None) -> None:
    """Centrality to the whole story, plus a lead bonus, facts bonus and novelty versus an earlier story."""
    centre = _centroid([c.vector for c in cands])
    prev_vec = _vectorize([previous])[0] if previous else {}
    for c in cands:
        score = _cosine(c.vector, centre)
        score += 0.25 / (1 + c.position)
        if re.search(r"\d", c.text):
            score += 0.05
        if docs[c.doc_index].kind == "post":
            score -= 0.05
        if _PRONOUN_START.match(c.text):
            score -= 0.15
        if c.text[:1] in "\"“‘":  # a quotation makes a poor lead; it can still follow
            score -= 0.1
        if prev_vec:
            score -= 0.4 * _cosine(c.vector, prev_vec)
        c.score = score


_NUMBER = re.compile(r"[$€£]?\d[\d,.]*(?:\s?(?:%|percent|billion|million|bn|m)\b)?")


def same_fact(a: str, b: str) -> bool:
    """Two sentences that say the same thing in other words: most content words shared, or the same figures."""
    ta, tb = set(_tokens(a)), set(_tokens(b))
    if ta and tb and len(ta & tb) / min(len(ta), len(tb)) >= 0.6:
        return True
    na = {n.strip(" .,") for n in _NUMBER.findall(a) if len(n.strip(" .,")) > 1}
    nb = {n.strip(" .,") for n in _NUMBER.findall(b) if len(n.strip(" .,")) > 1}
    return len(na & nb) >= 2


def _select(cands: list[_Candidate], max_words: int) -> list[_Candidate]:
    """Greedy MMR: best-scored first, no near-duplicates, a bonus for covering another source."""
    chosen: list[_Candidate] = []
    pool = list(cands)
    words = 0
    while pool and len(chosen) < MAX_SENTENCES:
        used = {c.doc_id for c in chosen}

        def value(c: _Candidate) -> float:
            redundancy = max((_cosine(c.vector, s.vector) for s in chosen), default=0.0)
            coverage = 0.05 if chosen and c.doc_id not in used else 0.0
            return c.score - 0.8 * redundancy + coverage

        ranked = sorted(pool, key=lambda c: (-value(c), c.doc_index, c.position))
        pick = None
        for c in ranked:
            too_similar = any(_cosine(c.vector, s.vector) > 0.35 or same_fact(c.text, s.text) for s in chosen)
            # "It ..." needs the sentence before it, which we may not have
            dangling = bool(_PRONOUN_START.match(c.text) or _PRONOUN_CLAUSE.match(c.text))
            if not too_similar and not dangling and words + c.words <= max_words:
                pick = c
                break
        if pick is None:
            break
        chosen.append(pick)
        words += pick.words
        pool.remove(pick)
    return chosen


def _clean_title(doc: SourceDoc) -> str:
    title = re.sub(r"\s+", " ", doc.title or "").strip()
    outlet = (doc.outlet or "").strip()
    if outlet:
        title = re.sub(r"\s*[|\-–—:]\s*" + re.escape(outlet) + r"\s*$", "", title, flags=re.IGNORECASE)
    title = re.sub(r"[*`#<>\[\]]|(?<!\w)_+|_+(?!\w)", "", title).strip()  # keep @jt_lin's underscore
    return title.rstrip(".").strip() if not title.endswith("...") else title


def choose_headline(docs: list[SourceDoc], style: str) -> str:
    """The source title most central to the story that fits the style's headline length."""
    lo, hi = style_rules(style).headline_words
    pool = [d for d in docs if d.kind == "article" and d.title.strip()] or [d for d in docs if d.title.strip()]
    if not pool:
        return ""
    vectors = _vectorize([_clean_title(d) + " " + d.text for d in pool] + [_clean_title(d) for d in pool])
    centre = _centroid(vectors[: len(pool)])
    best: tuple[float, int, str] | None = None
    for i, d in enumerate(pool):
        title = _clean_title(d)
        fits = lo <= word_count(title) <= hi
        score = _cosine(vectors[len(pool) + i], centre) + (1.0 if fits else 0.0)
        key = (score, -i, title)
        if best is None or key > best:
            best = key
    return best[2] if best else ""


def guess_tags(docs: list[SourceDoc], limit: int = 5) -> list[str]:
    """Tags from the controlled vocabulary by keyword match; at least one (a generic topic)."""
    titles = " ".join(d.title for d in docs)
    # only sentences that could be news: copyright lines and sign-up prompts tag nothing ("Legal" from "© ... rights")
    body = " ".join(x for d in docs for x in split_sentences(d.text) if not _BOILERPLATE.search(x))
    entity_hits: list[tuple[int, int, str]] = []
    topic_hits: list[tuple[int, int, str]] = []
    for order, entry in enumerate(tag_vocabulary()):
        if entry.kind == "topic":
            count = 0
            for kw in entry.keywords:
                rx = re.compile(r"(?<![\w-])" + re.escape(kw) + r"(?![\w-])", re.IGNORECASE)
                count += 2 * len(rx.findall(titles)) + len(rx.findall(body))
            if count >= 2:
                topic_hits.append((count, order, entry.name))
        else:
            count = 0
            for spelling in (entry.name, *entry.aliases):
                rx = re.compile(r"(?<![\w-])" + re.escape(spelling) + r"(?![\w-])")
                count += 2 * len(rx.findall(titles)) + len(rx.findall(body))
            if count:
                entity_hits.append((count, order, entry.name))
    entities = [n for _, _, n in sorted(entity_hits, key=lambda x: (-x[0], x[1]))][:3]
    topics = [n for _, _, n in sorted(topic_hits, key=lambda x: (-x[0], x[1]))][: max(limit - len(entities), 1)]
    tags = (entities + topics)[:limit]
    return tags or [_DEFAULT_TOPIC]


def section_for(tags: list[str]) -> str:
    """The themed section of the first topic tag (AI News Digest style)."""
    by_name = {e.name: e for e in tag_vocabulary()}
    for t in tags:
        entry = by_name.get(t)
        if entry and entry.kind == "topic" and entry.section:
            return entry.section
    return _DEFAULT_SECTION


def _paragraph_breaks(sentences: list[SummarySentence], style: str) -> None:
    """Split a long summary in two at a sentence boundary, each part long enough for the style."""
    rules = style_rules(style)
    if rules.max_paragraphs < 2 or len(sentences) < 3:
        return
    counts = [word_count(s.text) for s in sentences]
    total = sum(counts)
    if total <= 90:
        return
    lo = rules.paragraph_words[0]
    for cut in range(2, len(sentences)):
        if sum(counts[:cut]) >= lo and sum(counts[cut:]) >= lo:
            sentences[cut - 1].paragraph_break = True
            return


def draft_extractive(story: StoryInput, style: str) -> StoryDraft:
    """A draft made of source sentences, each citing where it came from; the view is for the editor."""
    rules = style_rules(style)
    docs = [d for d in story.sources if (d.text or d.title).strip()]
    previous = story.previous.summary if story.previous and story.previous.summary else None
    max_words = min(rules.summary_words[1] - 20, SUMMARY_WORDS[1])
    chosen: list[_Candidate] = []
    for strict in (True, False):
        cands = _candidates(docs, strict)
        if cands:
            _score(cands, docs, previous)
            chosen = _select(cands, max_words)
        if len(chosen) >= MIN_SENTENCES:
            break
    # Read like a written paragraph: articles' opening sentences (the news) first, each source's in its order.
    chosen.sort(key=lambda c: (docs[c.doc_index].kind == "post", min(c.position, 2), c.doc_index, c.position))
    # ... led by one that names who did it: "The start-up is giving ..." cannot open a story
    named = [c for c in chosen if not _UNNAMED_LEAD.match(c.text)]
    if named and named[0] is not chosen[0]:
        chosen.remove(named[0])
        chosen.insert(0, named[0])
    summary = [SummarySentence(text=c.text, source_ids=[c.doc_id]) for c in chosen]
    if not summary and docs:  # nothing sentence-like at all: fall back to the best title
        title_doc = docs[0]
        title = _clean_title(title_doc)
        summary = [SummarySentence(text=title if title.endswith(("!", "?", "...", "…")) else title + ".",
                                   source_ids=[title_doc.id])]
    _paragraph_breaks(summary, style)
    tags = guess_tags(docs)
    return StoryDraft(
        headline=choose_headline(docs, style),
        summary=summary,
        view=placeholder_view(style),
        tags=tags,
        section=section_for(tags) if rules.section_required else None,
    )
