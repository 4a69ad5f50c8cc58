"""Load the versioned prompt templates in `prompts/` so editors can change wording without code.

A template file is `<name>.v<N>.md`: YAML front matter (name, version, purpose), then sections
introduced by a line `=== system ===` or `=== user ===`, each a Jinja2 template. The newest
version of each name wins unless a version is pinned. Source text is never put into a template
raw: `format_sources` delimits and escapes it, because it is untrusted.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import jinja2
import yaml

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "prompts"

_FILENAME = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]*)\.v(?P<version>\d+)\.(?:md|j2|txt)$")
_SECTION = re.compile(r"^=== (system|user) ===[ \t]*$", re.MULTILINE)
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


class PromptError(Exception):
    """A prompt template is missing or malformed."""


class RenderedPrompt(NamedTuple):
    system: str
    user: str
    version: str


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    meta: dict[str, Any]
    system: jinja2.Template | None
    user: jinja2.Template | None
    path: Path

    @property
    def version_id(self) -> str:
        return f"{self.name}.v{self.version}"


def parse_template(path: Path) -> PromptTemplate:
    """Parse one template file; the filename and the front matter must agree on name and version."""
    m = _FILENAME.match(path.name)
    if not m:
        raise PromptError(f"{path.name}: expected <name>.v<N>.md")
    text = path.read_text(encoding="utf-8")
    meta: dict[str, Any] = {}
    front = _FRONT.match(text)
    if front:
        meta = yaml.safe_load(front.group(1)) or {}
        text = text[front.end():]
    name, version = m.group("name"), int(m.group("version"))
    if str(meta.get("name", name)) != name or int(meta.get("version", version)) != version:
        raise PromptError(f"{path.name}: front matter name/version disagree with the filename")
    parts = _SECTION.split(text)
    sections: dict[str, str] = {}
    for label, body in zip(parts[1::2], parts[2::2]):
        sections[label] = body.strip("\n")
    if not sections:
        raise PromptError(f"{path.name}: no '=== system ===' or '=== user ===' section")
    try:
        system = _ENV.from_string(sections["system"]) if "system" in sections else None
        user = _ENV.from_string(sections["user"]) if "user" in sections else None
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"{path.name}: {exc}") from exc
    return PromptTemplate(name, version, meta, system, user, path)


@dataclass
class PromptSet:
    """All templates of a directory, newest version per name (or the pinned one)."""

    templates: dict[str, PromptTemplate] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: str | Path | None = None, pins: dict[str, int] | None = None) -> "PromptSet":
        directory = Path(directory) if directory is not None else DEFAULT_DIR
        if not directory.is_dir():
            raise PromptError(f"prompt directory not found: {directory}")
        found: dict[str, PromptTemplate] = {}
        for path in sorted(directory.iterdir()):
            if not _FILENAME.match(path.name):
                continue
            tpl = parse_template(path)
            pinned = (pins or {}).get(tpl.name)
            if pinned is not None and tpl.version != pinned:
                continue
            if tpl.name not in found or tpl.version > found[tpl.name].version:
                found[tpl.name] = tpl
        return cls(found)

    def get(self, name: str) -> PromptTemplate:
        try:
            return self.templates[name]
        except KeyError:
            raise PromptError(f"no prompt template named {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self.templates

    def version(self, name: str) -> str:
        return self.get(name).version_id

    def render(self, name: str, **variables: Any) -> RenderedPrompt:
        """Render a template's sections; a missing section renders as ''."""
        tpl = self.get(name)
        try:
            system = tpl.system.render(**variables).strip() if tpl.system else ""
            user = tpl.user.render(**variables).strip() if tpl.user else ""
        except jinja2.UndefinedError as exc:
            raise PromptError(f"{tpl.path.name}: {exc}") from exc
        return RenderedPrompt(system, user, tpl.version_id)


# --- untrusted source text -------------------------------------------------------------

_DELIM = re.compile(r"<\s*(/?)\s*(source|sources|previous_story)\b", re.IGNORECASE)


def escape_source_text(text: str) -> str:
    """Neutralise anything that could close or open our delimiters, so a source cannot break out."""
    return _DELIM.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}", text)


def unescape_source_text(text: str) -> str:
    """Undo `escape_source_text` (up to whitespace inside the tag), e.g. to compare with the original."""
    return re.sub(r"&lt;\s*(/?)\s*(source|sources|previous_story)\b", r"<\1\2", text, flags=re.IGNORECASE)


def _attr(value: str) -> str:
    return html.escape(" ".join(value.split()), quote=True)


def format_source(number: int | str, text: str, *, title: str = "", outlet: str = "", url: str | None = None,
                  published: str | None = None) -> str:
    """One delimited source block, numbered: models cite `n`, never our ids (which they garble)."""
    attrs = [f'n="{_attr(str(number))}"']
    if outlet:
        attrs.append(f'outlet="{_attr(outlet)}"')
    if published:
        attrs.append(f'published="{_attr(published)}"')
    if url:
        attrs.append(f'url="{_attr(url)}"')
    body = []
    if title:
        body.append(f"Title: {escape_source_text(title)}")
    body.append(escape_source_text(text.strip()))
    return f"<source {' '.join(attrs)}>\n" + "\n".join(body) + "\n</source>"


def format_sources(blocks: Iterable[str]) -> str:
    return "\n\n".join(blocks)
