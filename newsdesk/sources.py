"""Read and write the sources file (sources.yaml) with clear errors for bad entries."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml

from extractors.models import SourceSpec
from extractors.urls import web_url

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


def load_sources(path: Path) -> list[SourceSpec]:
    """Load and validate a sources file; names must be unique."""
    if not path.exists():
        raise SourcesError(f"no sources file at {path} (set NEWSDESK_SOURCES)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
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
