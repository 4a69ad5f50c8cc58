"""Grounding checker: every checkable fact in a draft must be found in the sources it cites.

A "fact" is what a reader could verify and a model could invent: numbers, money, percentages,
multiples, dates, quotations, model/product identifiers and proper names. Each summary sentence
is checked against the sources it cites; the view (opinion) against all of the story's sources.
Matching is by value after normalising ("$40B" = "$40 billion" = "40 billion dollars",
"20%" = "20 percent", "1,100" = "1100", "May 9" = "9 May"), so rephrasing passes and changed
figures do not. The checker favours catching invented figures over silence: a flag is a
question for an editor, not a verdict.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from summarizer.lint import DATA_DIR, VIEW_PLACEHOLDER, strip_view_opener, tag_entry
from summarizer.models import HEADLINE, TAGS, VIEW, SourceDoc, StoryDraft, UnsupportedClaim

# --- vocabulary -------------------------------------------------------------------------------

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
}
# "one" and "two" are too often not counts ("one of the", "the two companies") to check alone.
_STANDALONE_NUMBER_WORDS = {w for w, v in NUMBER_WORDS.items() if v >= 3}
SCALES = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12, "tn": 1e12, "t": 1e12,
}
CURRENCIES = {"$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "€": "EUR", "eur": "EUR",
              "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
              "¥": "JPY", "yen": "JPY"}
_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
HEDGES = ("about", "around", "roughly", "nearly", "almost", "approximately", "some", "over", "more than",
          "less than", "under", "close to", "up to", "at least", "upwards of", "~", "an estimated", "just over",
          "just under", "above", "below")
_NAME_CONNECTORS = {"of", "de", "la", "van", "von", "der", "den", "du", "al", "bin", "for", "y"}

_NUM = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_SCALE = r"(?:[\s-]?(?P<scale>trillion|billion|million|thousand|tn|bn|mn)\b|(?P<scale1>[TBMK]|[mkb])(?![A-Za-z0-9]))?"
_WORDNUM = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))

_RX_IDENT = re.compile(r"(?<![\w$€£.,-])(?=[\w.-]*[A-Za-z])(?=[\w.-]*\d)[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*(?![\w-])")
_RX_NUM_UNIT_TOKEN = re.compile(
    r"^\d+(?:\.\d+)?(?:[kKmMbBtTxX]|bn|mn|tn|th|st|nd|rd|s)?$|^\d+(?:\.\d+)?-[a-z][a-z-]*$|^\d{4}-\d{2}(?:-\d{2})?$"
)
_RX_MONEY = re.compile(
    r"(?P<cur>US\$|\$|€|£|¥|\b(?:USD|EUR|GBP)\s?)" + _NUM + _SCALE
    + r"|" + r"(?<![\w.])" + _NUM.replace("num", "num2") + r"[\s-]?(?P<scale2>trillion|billion|million|thousand|bn|mn)?\s+(?P<cur2>dollars|euros|pounds|yen)\b",
    re.IGNORECASE,
)
_RX_PERCENT = re.compile(r"(?<![\w.])" + _NUM + r"\s?(?:%|percent\b|per cent\b|pct\b|percentage points?\b)", re.IGNORECASE)
_RX_MULTIPLE = re.compile(
    r"(?<![\w.])" + _NUM + r"\s?[x×](?![A-Za-z0-9])|\b(?P<word>" + _WORDNUM + r")[\s-]?(?:fold|times)\b|(?<![\w.])(?P<num3>\d+(?:\.\d+)?)[\s-]?(?:fold|times)\b",
    re.IGNORECASE,
)
_MONTH_RX = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?)"
_RX_DATE = re.compile(
    r"\b(?P<iso>(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2}))\b"
    r"|\b" + _MONTH_RX + r"(?:\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b)?(?:,?\s+(?P<year>(?:19|20)\d{2})\b)?"
    r"|\b(?P<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month2>January|February|March|April|May|June|July|August|September|October|November|December)(?:,?\s+(?P<year2>(?:19|20)\d{2})\b)?"
)
_RX_WEEKDAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_RX_PLAIN = re.compile(
    r"(?<![\w.,$€£])" + _NUM + r"(?:st|nd|rd|th|s)?" + r"(?:[\s-](?P<scale>trillion|billion|million|thousand)\b)?(?![\w])"
    r"|\b(?P<word>" + _WORDNUM + r")(?:[\s-](?P<wscale>trillion|billion|million|thousand)\b)?\b",
    re.IGNORECASE,
)
_RX_QUOTE = re.compile(r"\"([^\"]+)\"")
_RX_SINGLE_QUOTE = re.compile(r"(?:(?<=^)|(?<=[\s(\[—-]))‘([^’]+)’(?![A-Za-z])")
_RX_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’&-]*[A-Za-z0-9]|[A-Za-z]")
_RX_SENT_SPLIT = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])")


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    lines = (DATA_DIR / "common_words.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


# --- normalisation ----------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Same characters for the same meaning: quotes, dashes, spaces and width unified."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.replace("“", '"').replace("”", '"').replace("„", '"').replace("«", '"').replace("»", '"')
    text = text.replace("’", "'").replace("‘", "'").replace("‑", "-").replace("–", "-").replace("—", " - ")
    text = text.replace("\u00a0", " ").replace("\u202f", " ")
    return re.sub(r"\s+", " ", text).strip()


def _fold(text: str) -> str:
    return normalize(text).casefold()


def _loose(text: str) -> str:
    """For quotations: letters and digits only, so punctuation and spacing differences do not count."""
    return " ".join(re.findall(r"[a-z0-9]+", _fold(text).replace("'", "")))


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", _fold(text))


def _to_float(num: str) -> float:
    return float(num.replace(",", ""))


def _decimals(num: str) -> int:
    return len(num.split(".")[1]) if "." in num else 0


# --- claims -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One checkable fact as written, with its normalised value."""

    kind: str  # money | percent | multiple | number | date | weekday | quote | identifier | name
    text: str
    value: object = None
    decimals: int = 0  # precision as written, in the claim's own scale
    scale: float = 1.0
    hedged: bool = False
    initial: bool = False  # a name at a sentence start, where any word is capitalised


def _hedged(text: str, start: int) -> bool:
    before = text[max(0, start - 24):start].casefold().strip()
    return any(before.endswith(h) for h in HEDGES)


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            chars[i] = " "
    return "".join(chars)


def _scale_of(word: str | None, single: str | None = None) -> float:
    if word:
        return SCALES[word.lower()]
    if single:
        return SCALES[single.lower()]
    return 1.0


def extract_claims(text: str) -> list[Claim]:
    """All checkable facts of a text, each once, in the order found.

    Kinds are taken out in order (identifiers, quotes, money, percentages, multiples, dates,
    plain numbers, names) and masked, so "$40B" is one money claim and not also a number.
    """
    t = normalize(text)
    claims: list[Claim] = []

    quote_spans = []
    for m in _RX_QUOTE.finditer(t):
        claims.append(Claim("quote", m.group(1).strip()))
        quote_spans.append(m.span())
    for m in _RX_SINGLE_QUOTE.finditer(unicodedata.normalize("NFKC", text or "")):
        inner = m.group(1).strip()
        if len(inner.split()) >= 2:
            claims.append(Claim("quote", inner))

    work = t
    spans = []
    for m in _RX_IDENT.finditer(work):
        tok = m.group(0)
        if _RX_NUM_UNIT_TOKEN.match(tok) or re.fullmatch(r"\d+(?:\.\d+)?[kKmMbBtT]n?", tok):
            continue
        claims.append(Claim("identifier", tok))
        spans.append(m.span())
    work = _mask(work, spans)

    spans = []
    for m in _RX_MONEY.finditer(work):
        if m.group("num"):
            cur = CURRENCIES[m.group("cur").strip().lower()]
            num, scale = m.group("num"), _scale_of(m.group("scale"), m.group("scale1"))
        else:
            cur = CURRENCIES[m.group("cur2").lower()]
            num, scale = m.group("num2"), _scale_of(m.group("scale2"))
        claims.append(Claim("money", m.group(0).strip(), (cur, _to_float(num) * scale), _decimals(num), scale,
                            _hedged(work, m.start())))
        spans.append(m.span())
    work = _mask(work, spans)

    spans = []
    for m in _RX_PERCENT.finditer(work):
        num = m.group("num")
        claims.append(Claim("percent", m.group(0).strip(), _to_float(num), _decimals(num), 1.0, _hedged(work, m.start())))
        spans.append(m.span())
    work = _mask(work, spans)

    spans = []
    for m in _RX_MULTIPLE.finditer(work):
        if m.group("num"):
            num = m.group("num")
            value, dec = _to_float(num), _decimals(num)
        elif m.group("num3"):
            value, dec = _to_float(m.group("num3")), _decimals(m.group("num3"))
        else:
            value, dec = float(NUMBER_WORDS[m.group("word").lower()]), 0
        claims.append(Claim("multiple", m.group(0).strip(), value, dec, 1.0, _hedged(work, m.start())))
        spans.append(m.span())
    work = _mask(work, spans)

    spans = []
    for m in _RX_DATE.finditer(work):
        if m.group("iso"):
            value = (int(m.group("im")), int(m.group("id")), int(m.group("iy")))
        else:
            month_word = (m.group("month") or m.group("month2")).rstrip(".").lower()
            day = m.group("day") or m.group("day2")
            year = m.group("year") or m.group("year2")
            if month_word == "may" and not (day or year):
                before = work[max(0, m.start() - 12):m.start()].lower()
                if not re.search(r"\b(in|since|by|until|from|of|early|late|mid|last|next|this|through)\s*-?\s*$", before):
                    continue  # "May" the verb, capitalised at a sentence start
            if len(month_word) <= 4 and not (day or year) and month_word not in ("june", "july"):
                continue  # a bare "Mar"/"Dec" is more often a name or word than a date
            value = (MONTHS[month_word], int(day) if day else None, int(year) if year else None)
        claims.append(Claim("date", m.group(0).strip(), value))
        spans.append(m.span())
    work = _mask(work, spans)
    for m in _RX_WEEKDAY.finditer(work):
        claims.append(Claim("weekday", m.group(0), m.group(0).lower()))
    work = _mask(work, [m.span() for m in _RX_WEEKDAY.finditer(work)])

    spans = []
    for m in _RX_PLAIN.finditer(work):
        if m.group("num"):
            num = m.group("num")
            scale = _scale_of(m.group("scale"))
            claims.append(Claim("number", m.group(0).strip(), _to_float(num) * scale, _decimals(num), scale,
                                _hedged(work, m.start())))
        else:
            word = m.group("word").lower()
            scale = _scale_of(m.group("wscale"))
            if scale == 1.0 and word not in _STANDALONE_NUMBER_WORDS:
                continue
            claims.append(Claim("number", m.group(0).strip(), NUMBER_WORDS[word] * scale, 0, scale,
                                _hedged(work, m.start())))
        spans.append(m.span())
    work = _mask(work, spans)

    claims.extend(_names(_mask(work, quote_spans)))
    return _dedupe(claims)


def _dedupe(claims: list[Claim]) -> list[Claim]:
    seen: set[tuple[str, str]] = set()
    out = []
    for c in claims:
        key = (c.kind, c.text.casefold())
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _is_cap(word: str) -> bool:
    return any(ch.isupper() for ch in word)


def _strip_possessive(word: str) -> str:
    return re.sub(r"(?:'s|')$", "", word)


def _sentence_starts(text: str) -> set[int]:
    """Offsets where a capital letter is expected anyway (sentence or clause starts)."""
    starts = {0}
    for m in re.finditer(r"(?:[.!?:;]|\s-)[\"')\]]*\s+[\"'(\[]*|^[\"'(\[]+|\(\s*", text):
        starts.add(m.end())
    return starts


def _names(text: str) -> list[Claim]:
    """Proper names: runs of capitalised words, minus common words, sentence-initial words and dates."""
    common = common_words()
    starts = _sentence_starts(text)
    tokens = [(m.start(), m.end(), m.group(0)) for m in _RX_WORD.finditer(text)]
    runs: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    prev_end = -1
    for start, end, word in tokens:
        joined = bool(current) and text[prev_end:start] == " "
        if _is_cap(word) or (joined and word in _NAME_CONNECTORS):
            if current and not joined:
                runs.append(current)
                current = []
            current.append((start, word))
        elif current:
            runs.append(current)
            current = []
        prev_end = end
    if current:
        runs.append(current)

    claims: list[Claim] = []
    for run in runs:
        for part in _split_run(run, common):
            if not part:
                continue
            words = [_strip_possessive(w) for _, w in part]
            phrase = " ".join(words)
            if len(words) == 1:
                w = words[0]
                lw = w.lower()
                if len(w) < 2 or lw in common or lw in MONTHS or lw in WEEKDAYS:
                    continue
                if part[0][0] in starts and not _name_like(w):
                    continue
            claims.append(Claim("name", phrase, phrase, initial=part[0][0] in starts))
    return claims


def _split_run(run: list[tuple[int, str]], common: frozenset[str]) -> list[list[tuple[int, str]]]:
    """Split a capitalised run at common words and hyphen tails ("Denver-based" -> "Denver")."""
    parts: list[list[tuple[int, str]]] = [[]]
    for pos, raw in run:
        word = _strip_possessive(raw)
        ends_name = word != raw  # "Denver's Brightwater": a possessive closes a name
        if "-" in word:
            pieces = [p for p in word.split("-") if p]
            caps = [p for p in pieces if _is_cap(p)]
            if len(caps) != len(pieces):  # "Denver-based", "AI-driven": keep the capitalised pieces only
                for p in caps:
                    if p.lower() in common:
                        continue
                    parts.append([(pos, p)])
                parts.append([])
                continue
        if word in _NAME_CONNECTORS:
            parts[-1].append((pos, word))
            continue
        if word.lower() in common:
            parts.append([])
            continue
        parts[-1].append((pos, word))
        if ends_name:
            parts.append([])
    cleaned = []
    for p in parts:
        while p and p[-1][1] in _NAME_CONNECTORS:
            p = p[:-1]
        while p and p[0][1] in _NAME_CONNECTORS:
            p = p[1:]
        if p:
            cleaned.append(p)
    return cleaned


def _name_like(word: str) -> bool:
    """A sentence-initial word that still looks like a name: not an inflected common word."""
    if any(ch.isupper() for ch in word[1:]):  # OpenAI, xAI, NVIDIA
        return True
    return not re.search(r"(?:ly|ing|ed|er|est|ers|ies|es|ions?|ment|ments|ness|ity|s)$", word.lower())


# --- sources ----------------------------------------------------------------------------------


@dataclass
class SourceFacts:
    """What one source says, indexed for lookups."""

    id: str
    label: str  # how an editor knows the source: its outlet, else its id
    folded: str
    loose: str
    squashed: str
    words: frozenset[str]
    money: list[tuple[str, float]] = field(default_factory=list)
    percents: list[float] = field(default_factory=list)
    multiples: list[float] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)
    dates: list[tuple[int, int | None, int | None]] = field(default_factory=list)
    years: set[int] = field(default_factory=set)
    roles: list[tuple[str, str]] = field(default_factory=list)  # (role, folded name)


def source_facts(doc: SourceDoc) -> SourceFacts:
    """Index a source's title and text (dates also from its publication date)."""
    text = f"{doc.title}\n{doc.text}"
    facts = SourceFacts(
        id=doc.id,
        label=doc.outlet or doc.id,
        folded=_fold(text),
        loose=_loose(text),
        squashed=_squash(text),
        words=frozenset(re.findall(r"[a-z]+", text)),
    )
    for c in extract_claims(text):
        if c.kind == "money":
            cur, v = c.value  # type: ignore[misc]
            facts.money.append((cur, v))
            facts.numbers += [v, v / c.scale]
        elif c.kind == "percent":
            facts.percents.append(c.value)  # type: ignore[arg-type]
            facts.numbers.append(c.value)  # type: ignore[arg-type]
        elif c.kind == "multiple":
            facts.multiples.append(c.value)  # type: ignore[arg-type]
            facts.numbers.append(c.value)  # type: ignore[arg-type]
        elif c.kind == "number":
            facts.numbers += [c.value, c.value / c.scale]  # type: ignore[operator]
            if c.scale == 1.0 and float(c.value).is_integer() and 1900 <= c.value <= 2100:  # type: ignore[arg-type]
                facts.years.add(int(c.value))  # type: ignore[arg-type]
        elif c.kind == "date":
            facts.dates.append(c.value)  # type: ignore[arg-type]
            if c.value[2]:  # type: ignore[index]
                facts.years.add(c.value[2])  # type: ignore[index]
    if doc.published_at is not None:
        d = doc.published_at
        facts.dates.append((d.month, d.day, d.year))
    facts.roles = _role_pairs(text)
    return facts


def _num_match(claim_value: float, claim: Claim, candidates: Iterable[float]) -> bool:
    """Equal, or equal once the source is rounded to the claim's precision; hedged claims get 10%."""
    for v in candidates:
        if abs(v - claim_value) <= 1e-9 * max(1.0, abs(v)):
            return True
        if (round(v / claim.scale, claim.decimals) == round(claim_value / claim.scale, claim.decimals)
                and claim.decimals < _precision_of(v / claim.scale)
                and _significant(claim_value / claim.scale, claim.decimals) >= 2
                and abs(v - claim_value) <= 0.025 * abs(v)):
            return True  # "$640 million" for "$639.8 million", not "5" for "5.2"
        if claim.hedged and v and abs(v - claim_value) <= 0.1 * abs(v):
            return True
    return False


_NEGATORS = ("not", "never", "no", "nor", "without", "hardly", "neither")


def _quoted_faithfully(fragment: str, source: str) -> bool:
    """The fragment occurs in the source and, where it starts mid-quotation, not right after a
    negation the fragment drops ("not from making the model bigger" -> "from making the model bigger")."""
    start = source.find(fragment)
    while start != -1:
        before = source[:start].split()[-2:]
        if not any(w in _NEGATORS for w in before):
            return True
        start = source.find(fragment, start + 1)
    return False


def _significant(x: float, decimals: int) -> int:
    digits = f"{abs(x):.{decimals}f}".replace(".", "").lstrip("0")
    return len(digits)


def _precision_of(x: float) -> int:
    s = f"{x:.6f}".rstrip("0")
    return len(s.split(".")[1]) if "." in s else 0


def supported_in(claim: Claim, facts: SourceFacts) -> bool:
    """Whether one source supports one claim."""
    k = claim.kind
    if k == "money":
        cur, v = claim.value  # type: ignore[misc]
        return _num_match(v, claim, [x for c, x in facts.money if c == cur])
    if k == "percent":
        return _num_match(claim.value, claim, facts.percents)  # type: ignore[arg-type]
    if k == "multiple":
        return _num_match(claim.value, claim, facts.multiples + facts.numbers)  # type: ignore[arg-type]
    if k == "number":
        v = claim.value  # type: ignore[assignment]
        if claim.scale == 1.0 and float(v).is_integer() and 1900 <= v <= 2100 and int(v) in facts.years:  # type: ignore[operator]
            return True
        return _num_match(v, claim, facts.numbers)  # type: ignore[arg-type]
    if k == "date":
        month, day, year = claim.value  # type: ignore[misc]
        for m, d, y in facts.dates:
            if m == month and (day is None or d is None or d == day) and (year is None or y is None or y == year):
                if day is not None and d is None:
                    continue
                if year is not None and y is None and year not in facts.years:
                    continue
                return True
        return False
    if k == "weekday":
        return re.search(r"\b" + claim.value + r"\b", facts.folded) is not None  # type: ignore[operator]
    if k == "quote":
        parts = [p for p in re.split(r"\.\.\.|…|\[[^\]]*\]", claim.text) if _loose(p)]
        return bool(parts) and all(_quoted_faithfully(_loose(p), facts.loose) for p in parts)
    if k == "identifier":
        sq = _squash(claim.text)
        return sq in facts.squashed or (sq.endswith("s") and sq[:-1] in facts.squashed)
    if k == "name":
        phrase = _fold(claim.text)
        if re.search(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", facts.folded):
            return True
        if claim.initial and " " not in phrase and phrase in facts.words:  # sentence-initial common word
            return True
        return False
    return True


def _describe(claim: Claim) -> str:
    return {
        "money": "amount", "percent": "percentage", "multiple": "multiple", "number": "number",
        "date": "date", "weekday": "day", "quote": "quotation", "identifier": "model/product name",
        "name": "name",
    }[claim.kind]


def _fmt_money(cur: str, v: float) -> str:
    sym = _SYMBOL.get(cur, cur + " ")
    for word, scale in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if abs(v) >= scale:
            return f"{sym}{v / scale:g} {word}"
    return f"{sym}{v:,.2f}".rstrip("0").rstrip(".")


def _hint(claim: Claim, facts: list[SourceFacts]) -> str:
    """What the cited sources say instead, for numeric claims (helps the editor fix it fast)."""
    if claim.kind == "money":
        vals = list(dict.fromkeys(_fmt_money(c, v) for f in facts for c, v in f.money))
    elif claim.kind == "percent":
        vals = list(dict.fromkeys(f"{v:g}%" for f in facts for v in f.percents))
    else:
        return ""
    return f"; the cited source(s) mention {', '.join(vals[:4])}" if vals else ""


# --- who holds which role ------------------------------------------------------------------------

_ROLE = (r"chief (?:executive|scientist|technology officer|financial officer|operating officer|economist|product officer)"
         r"(?: officer)?|ceo|cto|cfo|coo|co-?founder|founder|president|chairman|chairwoman|chair|analyst|spokes(?:person|man|woman)")
_RX_ROLE_NAME = re.compile(r"\b((?i:" + _ROLE + r"))\s+([A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2})")


def _role_pairs(text: str) -> list[tuple[str, str]]:
    """(role, name) for "chief scientist Dana Okafor"-style appositions, roles normalised."""
    out = []
    for m in _RX_ROLE_NAME.finditer(normalize(text)):
        name = m.group(2)
        if not name[0].isupper():
            continue
        role = re.sub(r"\s+", " ", m.group(1).lower()).replace("co-founder", "cofounder")
        role = {"ceo": "chief executive", "cto": "chief technology officer", "cfo": "chief financial officer",
                "coo": "chief operating officer"}.get(role, role)
        out.append((role, _fold(_strip_possessive(name))))
    return out


def _role_mismatches(text: str, index: int, cited: list[SourceFacts]) -> list[UnsupportedClaim]:
    """A role given to the wrong person: flagged only when the cited sources name someone else in that
    role, or give that person another role (silence about roles is not evidence)."""
    out = []
    source_pairs = [p for f in cited for p in f.roles]
    for role, name in _role_pairs(text):
        if (role, name) in source_pairs or not any(name in f.folded for f in cited):
            continue  # right, or a name no source has (flagged as a name already)
        holders = sorted({n.title() for r, n in source_pairs if r == role})
        roles = sorted({r for r, n in source_pairs if n == name})
        if holders or roles:
            said = f"the sources name {', '.join(holders)} as {role}" if holders else \
                f"the sources call {name.title()} the {', '.join(roles)}"
            out.append(UnsupportedClaim(sentence=index, claim=f"{role} {name.title()}",
                                        reason=f"role \"{role}\" given to {name.title()}, but {said}"))
    return out


# --- the check --------------------------------------------------------------------------------


def _check_text(text: str, index: int, cited: list[SourceFacts], others: list[SourceFacts],
                scope: str, claims: list[Claim] | None = None) -> list[UnsupportedClaim]:
    out: list[UnsupportedClaim] = []
    for claim in extract_claims(text) if claims is None else claims:
        if any(supported_in(claim, f) for f in cited):
            continue
        elsewhere = list(dict.fromkeys(f.label for f in others if supported_in(claim, f)))
        what = _describe(claim)
        if elsewhere:
            reason = (f"{what} \"{claim.text}\" is not in the cited source(s) ({scope}) but appears in "
                      f"{', '.join(elsewhere)}, which this sentence does not cite")
        else:
            reason = f"{what} \"{claim.text}\" does not appear in {scope}{_hint(claim, cited)}"
        out.append(UnsupportedClaim(sentence=index, claim=claim.text, reason=reason))
    if claims is None:
        out += _role_mismatches(text, index, cited)
    return out


_INFLECTION = re.compile(r"(?:'s|ies|es|s|ed|ing)$")


def _word_in(word: str, facts: list[SourceFacts]) -> bool:
    """A headline word found in a source, allowing for Title Case and simple inflection."""
    w = _fold(word)
    stem = _INFLECTION.sub("", w)
    pattern = re.compile(r"(?<![a-z0-9])" + re.escape(stem if len(stem) > 2 else w))
    return any(pattern.search(f.folded) for f in facts)


def _title_case(headline: str) -> bool:
    """Most longer words capitalised: "Meridian Cuts Prices Again", where capitals say nothing."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*", headline) if len(w) >= 4]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _known_entity(word: str) -> bool:
    entry = tag_entry(word)
    return entry is not None and entry.kind != "topic"


def headline_claims(headline: str, facts: list[SourceFacts]) -> list[Claim]:
    """The headline's checkable facts. A name counts as supported when each of its uncommon words
    occurs in the sources. In a Title Case headline every word is capitalised, so there a name is
    only flagged when it cannot be ordinary words: a known company or product, a word with inner
    capitals or digits, or two or more words none of which the sources use."""
    common = common_words()
    title_case = _title_case(headline)
    out = []
    for claim in extract_claims(headline):
        if claim.kind == "name":
            words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9'&]*", claim.text) if w.lower() not in common]
            present = [_word_in(w, facts) for w in words]
            if all(present):
                continue
            if title_case:
                suspect = _suspect_words(words, present)
                if not suspect:
                    continue
                claim = Claim("name", suspect, suspect)
            else:
                missing = " ".join(w for w, p in zip(words, present) if not p)
                claim = Claim("name", missing, missing)  # the words no source has
        out.append(claim)
    return out


def _suspect_words(words: list[str], present: list[bool]) -> str:
    """In a Title Case headline, the absent words that cannot be ordinary words: a known company or
    product, a word with inner capitals or digits (xAI, GPT5), or two or more absent words in a row of
    which one looks like a name rather than an inflected common word ("Harrowgate Partners", not
    "Bigger Bills")."""
    for w, p in zip(words, present):
        if not p and (_known_entity(w) or any(ch.isupper() or ch.isdigit() for ch in w[1:])):
            return w
    run: list[str] = []
    for w, p in [*zip(words, present), ("", True)]:
        if not p:
            run.append(w)
            continue
        if len(run) >= 2 and any(_name_like(x) for x in run):
            return " ".join(run)
        run = []
    return ""


def _check_tags(tags: list[str], facts: list[SourceFacts]) -> list[UnsupportedClaim]:
    """Entity tags (companies, products, unknown names) must be named in a source; topics are judgments."""
    out = []
    for tag in tags:
        entry = tag_entry(tag)
        if entry is not None and entry.kind == "topic":
            continue
        spellings = [tag] + (list(entry.aliases) + [entry.name] if entry is not None else [])
        claims = [Claim("name", s, s) for s in spellings]
        if any(supported_in(c, f) for c in claims for f in facts):
            continue
        out.append(UnsupportedClaim(sentence=TAGS, claim=tag,
                                    reason=f"tag \"{tag}\" names something no source of this story mentions"))
    return out


def check_grounding(
    draft: StoryDraft,
    sources: list[SourceDoc],
    *,
    story_source_ids: set[str] | None = None,
) -> list[UnsupportedClaim]:
    """Claims of the draft its sources do not support; empty means every fact was found.

    `sources` are the documents to look facts up in; `story_source_ids` (default: their ids)
    are the ones this story may cite. Summary sentences are checked against the sources they
    cite; the headline, the view and the tags against all the story's sources.
    """
    allowed = set(story_source_ids) if story_source_ids is not None else {s.id for s in sources}
    facts = {s.id: source_facts(s) for s in sources if s.id in allowed}
    everything = list(facts.values())
    scope_all = "any source of this story"
    out: list[UnsupportedClaim] = []
    headline = (draft.headline or "").strip()
    if headline:
        out += _check_text(headline, HEADLINE, everything, [], scope_all, headline_claims(headline, everything))
    for i, sentence in enumerate(draft.summary):
        text = (sentence.text or "").strip()
        if not text:
            continue
        ids = [sid for sid in dict.fromkeys(sentence.source_ids) if sid and sid.strip()]
        if not ids:
            out.append(UnsupportedClaim(sentence=i, claim=text, reason="the sentence cites no source"))
            continue
        for sid in ids:
            if sid not in allowed:
                out.append(UnsupportedClaim(sentence=i, claim=sid,
                                            reason=f"cites \"{sid}\", which is not a source of this story"))
            elif sid not in facts:
                out.append(UnsupportedClaim(sentence=i, claim=sid,
                                            reason=f"cites \"{sid}\", whose text is not available to check"))
        cited = [facts[sid] for sid in ids if sid in facts]
        if not cited:
            continue
        others = [f for sid, f in facts.items() if sid not in ids]
        scope = ", ".join(dict.fromkeys(f.label for f in cited))
        out += _check_text(text, i, cited, others, scope)
    view = strip_view_opener(draft.view or "").replace(VIEW_PLACEHOLDER, " ").strip()
    if view:
        out += _check_text(view, VIEW, everything, [], scope_all)
    out += _check_tags([t for t in draft.tags if t and t.strip()], everything)
    return out
