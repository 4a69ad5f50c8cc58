"""Read and write the sources file (sources.yaml) with clear errors for bad entries."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml

from extractors.models import SourceSpec

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
    tags = entry.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    try:
        weight = float(entry.get("weight", 1.0))
    except (TypeError, ValueError):
        raise SourcesError(f"{where} ({name}): weight must be a number") from None
    return SourceSpec(
        name=name,
        type=typ,
        url=entry.get("url"),
        handle=entry.get("handle"),
        tags=tuple(str(t) for t in tags),
        base_url=entry.get("base_url"),
        weight=weight,
        options=dict(entry.get("options") or {}),
    )


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
