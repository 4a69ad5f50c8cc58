"""Read and write the sources file (sources.yaml) with clear errors for bad entries."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterable

import yaml

from extractors.models import SourceSpec
from extractors.urls import web_url
from storage.files import write_atomically

SOURCE_TYPES = ("feed", "rss", "atom", "jsonfeed", "bluesky", "mastodon", "reddit", "hackernews", "x")
NEEDS_URL = ("feed", "rss", "atom", "jsonfeed")
NEEDS_HANDLE = ("bluesky", "mastodon", "reddit", "x")


class SourcesError(ValueError):
    """The sources file cannot be used; the message says which entry and why."""


def spec_from_dict(entry: dict[str, Any], where: str = "") -> SourceSpec:
    if not isinstance(entry, dict):
        raise SourcesError(f"{where}: each source must be a mapping")
    name = entry.get("name")
    typ = entry.get("type")
    if not name or not isinstance(name, str):
        raise SourcesError(f"{where}: a source needs a name")
    if typ not in SOURCE_TYPES:
        raise SourcesError(f"{where} ({name}): type must be one of {', '.join(SOURCE_TYPES)}, not {typ!r}")
    if typ in NEEDS_URL and not entry.get("url"):
        raise SourcesError(f"{where} ({name}): a {typ} source needs a url")
    if typ in NEEDS_HANDLE and not entry.get("handle"):
        raise SourcesError(f"{where} ({name}): a {typ} source needs a handle")
    for key in ("url", "handle", "base_url"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise SourcesError(f"{where} ({name}): {key} must be text, not {_kind(value)}")
    for key in ("url", "base_url"):
        if entry.get(key) is not None and not web_url(entry[key]):
            raise SourcesError(f"{where} ({name}): {key} must be an http(s) URL, not {entry[key][:100]!r}")
    tags = entry.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, (str, int, float)) and not isinstance(t, bool) for t in tags):
        raise SourcesError(f"{where} ({name}): tags must be a list of words, not {_kind(tags)}")
    weight = entry.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float, str)):
        raise SourcesError(f"{where} ({name}): weight must be a number, not {_kind(weight)}")
    try:
        weight = float(weight)
    except ValueError:
        raise SourcesError(f"{where} ({name}): weight must be a number, not {weight!r}") from None
    options = entry.get("options") or {}
    if not isinstance(options, dict):
        raise SourcesError(f"{where} ({name}): options must be a mapping (key: value), not {_kind(options)}")
    return SourceSpec(
        name=name,
        type=typ,
        url=entry.get("url"),
        handle=entry.get("handle"),
        tags=tuple(str(t) for t in tags),
        base_url=entry.get("base_url"),
        weight=weight,
        options=dict(options),
    )


def _kind(value: Any) -> str:
    """How a YAML value looks to the person who wrote it."""
    return {list: "a list", dict: "a mapping", bool: "true/false", int: "a number", float: "a number",
            str: "text"}.get(type(value), type(value).__name__)


# libyaml's loader when PyYAML has it: the pure-Python one took ~0.1 s for 500 sources, a tenth of
# an unchanged night's collect stage (bench/collect_stage); both build the same safe objects.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_sources(path: Path) -> list[SourceSpec]:
    """Load and validate a sources file; names must be unique."""
    if not path.exists():
        raise SourcesError(f"no sources file at {path} (set NEWSDESK_SOURCES)")
    return parse_sources(path.read_text(encoding="utf-8"), path)


def parse_sources(text: str, path: Path) -> list[SourceSpec]:
    """Validate the text of a sources file (`path` names it in messages)."""
    try:
        data = yaml.load(text, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise SourcesError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    entries = data.get("sources") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise SourcesError(f"{path}: expected a list under 'sources:'")
    specs = [spec_from_dict(e, f"{path.name} entry {i + 1}") for i, e in enumerate(entries)]
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise SourcesError(f"{path}: source name {s.name!r} appears twice")
        seen.add(s.name)
    return specs


def check_source_names(path: Path, names: Iterable[str]) -> list[SourceSpec]:
    """The sources file's entries, or SourcesError naming every requested source it does not have."""
    specs = load_sources(path)
    known = {s.name for s in specs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SourcesError(f"unknown source(s): {', '.join(unknown)}")
    return specs


def spec_to_dict(spec: SourceSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name, "type": spec.type}
    for key in ("url", "handle", "base_url"):
        if getattr(spec, key):
            out[key] = getattr(spec, key)
    if spec.tags:
        out["tags"] = list(spec.tags)
    if spec.weight != 1.0:
        out["weight"] = spec.weight
    if spec.options:
        out["options"] = dict(spec.options)
    return out


def dump_sources(specs: Iterable[SourceSpec]) -> str:
    return yaml.safe_dump({"sources": [spec_to_dict(s) for s in specs]}, sort_keys=False, allow_unicode=True)


def add_sources(path: Path, specs: Iterable[SourceSpec]) -> list[SourceSpec]:
    """Append entries to the sources file, keeping its comments, order and layout; returns the file's sources.

    The file is edited as a round-trip YAML document (ruamel.yaml) and
    replaced atomically: the new text is validated like any sources file,
    written to a temporary file beside it and renamed over it, so a crash or a
    concurrent reader never sees half a file, and an invalid result is never written.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.util import load_yaml_guess_indent

    specs = list(specs)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long URL
    try:
        _, _, offset = load_yaml_guess_indent(text) if text.strip() else (None, 2, 2)
        doc = rt.load(text) if text.strip() else None
    except YAMLError as exc:
        raise SourcesError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    offset = offset or 0
    rt.indent(mapping=2, sequence=offset + 2, offset=offset)
    if doc is None:
        doc = CommentedMap([("sources", CommentedSeq())])
    entries = doc.get("sources") if isinstance(doc, dict) else doc
    if entries is None and isinstance(doc, dict):
        entries = doc["sources"] = CommentedSeq()
    if not isinstance(entries, list):
        raise SourcesError(f"{path}: expected a list under 'sources:'")
    flow = bool(entries) and getattr(entries[-1], "fa", None) is not None and entries[-1].fa.flow_style()
    for spec in specs:
        # Text is double-quoted: YAML 1.1 readers (PyYAML, which loads this file) refuse
        # a plain "https://..." inside {...}, and a name may hold ':', '#' or quotes.
        entry = CommentedMap((k, _quoted(v) if k != "type" else v) for k, v in spec_to_dict(spec).items())
        if "tags" in entry:
            entry["tags"] = CommentedSeq(entry["tags"])
            entry["tags"].fa.set_flow_style()
        if flow:
            entry.fa.set_flow_style()
        entries.append(entry)
    out = io.StringIO()
    rt.dump(doc, out)
    new_text = out.getvalue()
    result = parse_sources(new_text, path)
    if [spec_to_dict(s) for s in result[len(result) - len(specs):]] != [spec_to_dict(s) for s in specs]:
        raise SourcesError(f"{path}: the new entries did not survive writing; nothing was changed")
    write_atomically(path, new_text, durable=True)  # an operator's hand-edited file: never half a file, never lost
    return result


def _quoted(value: Any) -> Any:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, str):
        return DoubleQuotedScalarString(value)
    if isinstance(value, list):
        return [_quoted(v) for v in value]
    return value


