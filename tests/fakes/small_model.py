"""A deterministic stand-in for a small instruction model, used by the server-family fakes.

It reads a chat request the way a model would, without knowing our prompt format: it looks for
source-like blocks (an XML-ish tag with an id, or lines starting with `[n]`), takes sentences
from them, and answers

- under a JSON Schema (constrained decoding): a value valid against that schema. Strings are
  filled with sentences from the sources, enums and integer bounds are respected, arrays stay
  within minItems/maxItems, and an object that carries both text and an id-like field cites
  the block its text came from;
- under "any JSON" (a JSON grammar without a schema): what the model makes of the prompt. A
  model that `follows_prompt_schema` fills the schema it finds in the prompt; a small one
  answers in a shape of its own (wrong keys, wrong nesting);
- without constraint: prose, or JSON wrapped the way small models wrap it.

`sloppy=True` makes the plausible-but-wrong choices a schema does not forbid: ids that are not
exactly as shown, extra keys where additionalProperties allows them, optional keys dropped,
markdown fences and a leading sentence around unconstrained JSON.

Replies depend only on the request (like temperature 0), so a rerun gets the same answer.
"""
from __future__ import annotations

import hashlib
import html
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

ANY_JSON = "json"
TEXT = "text"
SCHEMA = "schema"

_OPEN_TAG = re.compile(r"<(?P<tag>[A-Za-z_][\w-]*)\b(?P<attrs>[^>]*)>")
_LABEL_ATTR = re.compile(r"""\b(?:id|n|num|number|index|ref|key)\s*=\s*["']?(?P<label>[^"'\s>]+)""", re.IGNORECASE)
_TITLE_ATTR = re.compile(r"""\btitle\s*=\s*["'](?P<title>[^"']*)["']""", re.IGNORECASE)
_URL_ATTR = re.compile(r"""\burl\s*=\s*["'](?P<url>[^"']*)["']""", re.IGNORECASE)
_NUMBERED = re.compile(r"^[ \t]*(?:#+[ \t]*)?(?:\[(?P<a>\d+)\]|Source[ \t]+(?P<b>\d+)[:.])", re.MULTILINE | re.IGNORECASE)
_META_LINE = re.compile(r"^\s*(?P<key>Title|Headline|URL|Link|Outlet|Source|Published|Date|Author|By)\s*:\s*(?P<value>.*)$",
                        re.IGNORECASE)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z0-9\"“‘(])")
_INSTRUCTION = re.compile(
    r"\b(you|your|must|should|write|reply|respond|answer|return|output|do not|don't|never|always|cite|citation|"
    r"json|schema|format|field|key|instruction|example|sentence\(s\)|following|below|above)\b", re.IGNORECASE)
_ID_NAME = re.compile(r"(^|_)(id|ids|ref|refs|source|sources|citation|citations|cite|cites|cited)($|_)", re.IGNORECASE)
_HEADLINE_NAME = re.compile(r"headline|title|heading", re.IGNORECASE)
_TAG_NAME = re.compile(r"(^|_)(tags?|labels?|keywords?|topics?|categor(y|ies)|sections?)($|_)", re.IGNORECASE)
_VIEW_NAME = re.compile(r"view|opinion|comment|analysis|why|take|verdict", re.IGNORECASE)
_URL_NAME = re.compile(r"url|link|href", re.IGNORECASE)


@dataclass
class Segment:
    """One source-like block of the prompt: its label as shown, title and sentences."""

    label: str
    title: str = ""
    url: str = ""
    sentences: list[str] = field(default_factory=list)


@dataclass
class PromptView:
    """What the model takes from the messages."""

    segments: list[Segment]
    loose: list[str]  # source-looking sentences outside any block
    schema: dict[str, Any] | None  # a JSON Schema written into the prompt, if any
    asks_for_json: bool


def estimate_tokens(text: str) -> int:
    """About four characters a token, as for English text with common BPE vocabularies."""
    return max(1, (len(text) + 3) // 4)


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _sentences(text: str) -> list[str]:
    kept: list[str] = []
    for line in text.splitlines():
        if not line.strip() or _META_LINE.match(line):
            continue
        kept.append(line.strip())
    flat = " ".join(" ".join(kept).split())
    return [s.strip() for s in _SENTENCE_SPLIT.split(flat) if len(s.split()) >= 4]


def _meta(text: str, key: str) -> str:
    for line in text.splitlines():
        m = _META_LINE.match(line)
        if m and m.group("key").lower() == key:
            return m.group("value").strip()
    return ""


def _source_score(sentence: str) -> int:
    """Higher for sentences that read like reporting, lower for instructions to the model."""
    score = 0
    if re.search(r"\d", sentence):
        score += 1
    if re.search(r"\s[A-Z][a-z]+", sentence):
        score += 1
    score -= 2 * len(_INSTRUCTION.findall(sentence))
    return score


def _find_schema(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and ("properties" in value or "$defs" in value):
            return value
    return None


def read_prompt(messages: list[dict[str, Any]]) -> PromptView:
    """Segments, loose sentences and any schema, from the whole conversation."""
    users = [html.unescape(message_text(m)) for m in messages if m.get("role") == "user"]
    # The first user turn carries the material; later turns are corrections of earlier replies.
    material = users[0] if users else ""
    everything = "\n".join(message_text(m) for m in messages)
    segments: list[Segment] = []
    consumed: list[tuple[int, int]] = []
    for m in _OPEN_TAG.finditer(material):  # blocks may sit inside a wrapper like <sources>
        label_m = _LABEL_ATTR.search(m.group("attrs"))
        close = material.find(f"</{m.group('tag')}>", m.end())
        if not label_m or close < 0 or (consumed and m.start() < consumed[-1][1]):
            continue
        body = material[m.end():close]
        title_m = _TITLE_ATTR.search(m.group("attrs"))
        url_m = _URL_ATTR.search(m.group("attrs"))
        segments.append(Segment(label=label_m.group("label"),
                                title=(title_m.group("title") if title_m else _meta(body, "title")),
                                url=(url_m.group("url") if url_m else _meta(body, "url")),
                                sentences=_sentences(body)))
        consumed.append((m.start(), close + len(m.group("tag")) + 3))
    if not segments:
        marks = list(_NUMBERED.finditer(material))
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(material)
            body = material[m.end():end]
            first = body.strip().splitlines()[0] if body.strip() else ""
            segments.append(Segment(label=m.group("a") or m.group("b"),
                                    title=_meta(body, "title") or first.strip(" :-"),
                                    url=_meta(body, "url"), sentences=_sentences(body)))
            consumed.append((m.start(), end))
    outside = material
    for start, end in reversed(consumed):
        outside = outside[:start] + "\n" + outside[end:]
    loose = sorted((s for s in _sentences(outside) if _source_score(s) > 0), key=_source_score, reverse=True)
    return PromptView(segments=segments, loose=loose, schema=_find_schema(everything),
                      asks_for_json=bool(re.search(r"\bjson\b", everything, re.IGNORECASE)))


class SmallModel:
    """Answers chat requests under a constraint; see the module docstring."""

    def __init__(self, *, sloppy: bool = False, follows_prompt_schema: bool = True, seed: int = 0):
        self.sloppy = sloppy
        self.follows_prompt_schema = follows_prompt_schema
        self.seed = seed

    def reply(self, messages: list[dict[str, Any]], constraint: str, schema: dict[str, Any] | None = None) -> str:
        digest = hashlib.sha256(json.dumps([self.seed, messages, constraint, schema], sort_keys=True,
                                           default=str).encode()).digest()
        rng = random.Random(digest)
        view = read_prompt(messages)
        if constraint == SCHEMA and schema is not None:
            return json.dumps(_Filler(view, rng, self.sloppy, schema).value(schema, ""), ensure_ascii=False)
        if constraint == ANY_JSON:
            return json.dumps(self._free_json(view, rng), ensure_ascii=False)
        if view.asks_for_json:
            body = json.dumps(self._free_json(view, rng), ensure_ascii=False, indent=2)
            if self.sloppy or not self.follows_prompt_schema:
                return f"Sure! Here is the JSON object you asked for:\n\n```json\n{body}\n```\n"
            return body
        return " ".join(_pool(view)[:4]) or "I have nothing to add."

    def _free_json(self, view: PromptView, rng: random.Random) -> Any:
        if view.schema is not None and self.follows_prompt_schema:
            return _Filler(view, rng, self.sloppy, view.schema).value(view.schema, "")
        # A small model's own shape: a flat object with a string where a list of objects belongs,
        # and keys that are near the asked ones but not the same.
        pool = _pool(view)
        first = view.segments[0] if view.segments else None
        return {
            "title": (first.title if first and first.title else (pool[0] if pool else "News")),
            "summary": " ".join(pool[:3]),
            "sources": [s.label for s in view.segments[:3]],
            "opinion": "This is an important development.",
        }


def _pool(view: PromptView) -> list[str]:
    out = [s for seg in view.segments for s in seg.sentences]
    return out + view.loose if out else view.loose


class _Filler:
    """Builds one value valid against a JSON Schema, from what the prompt offers."""

    def __init__(self, view: PromptView, rng: random.Random, sloppy: bool, root: dict[str, Any]):
        self.view, self.rng, self.sloppy, self.root = view, rng, sloppy, root
        pairs = [(i, s) for i, seg in enumerate(view.segments) for s in seg.sentences[:2]]
        # Interleave blocks (first sentence of each, then the second ones) like a summary would.
        pairs.sort(key=lambda p: (view.segments[p[0]].sentences.index(p[1]), p[0]))
        self.pairs = pairs or [(-1, s) for s in view.loose]
        self.cursor = 0
        self.current: int = 0 if view.segments else -1

    # --- schema plumbing -------------------------------------------------------------------

    def resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            ref = schema["$ref"]
            node: Any = self.root
            for part in ref.lstrip("#/").split("/"):
                if part:
                    node = node.get(part, {}) if isinstance(node, dict) else {}
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        if not isinstance(schema, dict):
            return {}
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged.update(self.resolve(part))
            schema = merged
        return schema

    def value(self, schema: Any, name: str, parent: str = "") -> Any:
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.pick_enum(schema["enum"], name or parent)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self.resolve(o) for o in schema[key]]
                non_null = [o for o in options if o.get("type") != "null"]
                return self.value(non_null[0] if non_null else options[0], name, parent)
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if k != "null"]
            kind = non_null[0] if non_null else "null"
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            return self.obj(schema)
        if kind == "array":
            return self.array(schema, name)
        if kind in ("integer", "number"):
            return self.number(schema, name or parent, kind)
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return self.string(schema, name or parent)

    # --- by type ---------------------------------------------------------------------------

    def obj(self, schema: dict[str, Any]) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        if any(_ID_NAME.search(k) for k in props) and any(not _ID_NAME.search(k) for k in props):
            self.take_sentence()  # a cited statement: text and ids come from one block
        out: dict[str, Any] = {}
        for key, sub in props.items():
            if self.sloppy and key not in required and self.rng.random() < 0.5:
                continue
            out[key] = self.value(sub, key)
        if self.sloppy and schema.get("additionalProperties", True) is not False:
            out["note"] = "Based on the provided sources."
        return out

    def array(self, schema: dict[str, Any], name: str) -> list[Any]:
        items = self.resolve(schema.get("items") or {})
        lo = int(schema.get("minItems", 0))
        hi = int(schema.get("maxItems", 10 ** 6))
        if _ID_NAME.search(name):
            n = 1
        elif _TAG_NAME.search(name):
            n = 2
        elif items.get("type") == "object" or "properties" in items:
            n = max(2, min(4, len(self.pairs)))
        else:
            n = 2
        n = max(lo, min(hi, n))
        if "enum" in items and schema.get("uniqueItems"):
            n = min(n, len(items["enum"]))
        out: list[Any] = []
        for _ in range(n):
            v = self.value(items, "", parent=name)
            if schema.get("uniqueItems") and v in out:
                continue
            out.append(v)
        while len(out) < lo:  # uniqueItems dropped a duplicate below minItems
            out.append(self.value(items, "", parent=name))
        return out

    def number(self, schema: dict[str, Any], name: str, kind: str) -> int | float:
        lo = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else None)
        hi = schema.get("maximum", schema["exclusiveMaximum"] - 1 if "exclusiveMaximum" in schema else None)
        if _ID_NAME.search(name) and self.view.segments:
            seg = self.segment()
            value = int(seg.label) if seg.label.isdigit() else self.view.segments.index(seg) + 1
            if self.sloppy and lo is None:
                value -= 1  # counts from zero where the prompt counted from one
        else:
            value = lo if lo is not None else 1
        if lo is not None:
            value = max(lo, value)
        if hi is not None:
            value = min(hi, value)
        return int(value) if kind == "integer" else float(value)

    def string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        if fmt == "date":
            text = "2026-01-01"
        elif fmt == "date-time":
            text = "2026-01-01T00:00:00Z"
        elif fmt in ("uri", "url") or _URL_NAME.search(name):
            text = self.segment().url or "https://example.com/"
        elif _ID_NAME.search(name):
            text = self.label()
        elif _HEADLINE_NAME.search(name):
            text = self.headline()
        elif _TAG_NAME.search(name):
            text = self.tag()
        elif _VIEW_NAME.search(name):
            text = self.view_sentence()
        else:
            text = self.sentence()
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, text):
            candidates = [s.label for s in self.view.segments] + ["1", "a", "A"]
            text = next((c for c in candidates if re.search(pattern, c)), text)
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        if hi is not None and len(text) > hi:
            text = text[: int(hi)]
        if lo is not None and len(text) < lo:
            text = text + "." * (int(lo) - len(text))
        return text

    def pick_enum(self, values: list[Any], name: str) -> Any:
        if _ID_NAME.search(name) and self.view.segments:
            seg = self.segment()
            index = str(self.view.segments.index(seg) + 1)
            for wanted in (seg.label, index):
                for v in values:
                    if str(v) == wanted:
                        return v
        return values[self.rng.randrange(len(values))] if values else None

    # --- content ---------------------------------------------------------------------------

    def take_sentence(self) -> None:
        if self.pairs:
            self.current = self.pairs[self.cursor % len(self.pairs)][0]

    def segment(self) -> Segment:
        if not self.view.segments:
            return Segment(label="1")
        return self.view.segments[max(0, self.current) % len(self.view.segments)]

    def sentence(self) -> str:
        if not self.pairs:
            return "The sources give no details."
        seg_index, text = self.pairs[self.cursor % len(self.pairs)]
        self.cursor += 1
        if seg_index >= 0:
            self.current = seg_index
        return text

    def label(self) -> str:
        seg = self.segment()
        label = seg.label
        if not self.sloppy:
            return label
        # SmolLM2-135M under a json_object schema cited "1" and "2" where ids 1, 7, 10, ... were shown:
        # positions instead of ids. Decoration of the id is the other common slip.
        position = str(self.view.segments.index(seg) + 1) if seg in self.view.segments else "1"
        variants = [position, f"[{label}]", f"source {label}", label.upper() + "."]
        return variants[self.rng.randrange(len(variants))]

    def headline(self) -> str:
        seg = self.view.segments[0] if self.view.segments else None
        title = seg.title if seg and seg.title else (self.pairs[0][1] if self.pairs else "News of the day")
        return " ".join(title.split()[:12]).rstrip(".")

    def tag(self) -> str:
        words = re.findall(r"\b[A-Z][A-Za-z0-9]{2,}\b", " ".join(s.title for s in self.view.segments))
        return words[self.rng.randrange(len(words))] if words else "AI"

    def view_sentence(self) -> str:
        topic = self.headline()
        return (f"This matters because {topic} shows how quickly the field moves, and every rival "
                "now has to answer with a cheaper or better product of its own.")
