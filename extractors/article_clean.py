"""Drop boilerplate lines that survive extraction inside the article body.

Share prompts, "Advertisement" markers, newsletter pitches, copyright
footers and the repeated headline sit around the paragraphs on most news
sites; they are short lines with a recognisable shape, so line-level
patterns remove them without touching the story.
"""
from __future__ import annotations

import re

from .metadata import PageMeta

_BOILERPLATE_SHAPES = (
    r"advertisement|advertising|ad|sponsored( content)?|story continues below( advertisement)?",
    r"(continue|keep) reading( (below|the main story))?",
    r"(share|tweet|email|print|save|copy link|comment)(\s+(this|on|via|article|story|link|to)\b.*)?",
    r"[-•]?\s*(order reprints|print article|reprints?( & permissions)?)",
    r"share (this|on) .*",
    r"(sign up|subscribe) (for|to) (our|the) .{0,60}newsletters?.*",
    r"thanks? (you )?for (signing up|subscribing).*",
    r"keep an eye on your inbox.*",
    r"(sorry!?\s*)?there was an error processing your (subscription|request).*",
    r"an error (has )?occurred.{0,40}",
    r"(photo|image|picture|illustration|credit|photograph|video)s?\s*(by|credit|:)\s*.{0,80}",
    r"read (more|next|also)\s*:.*",
    r"related( articles| stories| coverage)?\s*:?",
    r"(follow|like) us on .{0,60}",
    r"(copyright\s*)?(©|\(c\)|copyright)\s*.{0,80}(all rights reserved.*)?",
    r".{0,80}all rights reserved\.?",
    r"write to .{0,60}\bat\s+\S+@\S+",
)
_BOILERPLATE = re.compile(r"^(" + "|".join(_BOILERPLATE_SHAPES) + r")\s*[.!]?\s*$", re.I)
_MAX_BOILERPLATE_WORDS = 16
_TOKEN = re.compile(r"\w+")
_HEAD_LINES = 3  # a repeated headline or standfirst only ever sits at the top


def is_boilerplate(line: str) -> bool:
    """True for a short line that matches a known non-article shape."""
    stripped = line.strip()
    if not stripped:
        return False
    if len(stripped.split()) > _MAX_BOILERPLATE_WORDS:
        return False
    return bool(_BOILERPLATE.match(stripped))


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def _is_heading_copy(line: str, headlines: list[str]) -> bool:
    """The line repeats the page title (sites often add " | Site" to <title>)."""
    norm = _norm(line)
    if not norm:
        return False
    for h in headlines:
        if norm == h or (len(norm) > 20 and h.startswith(norm)):
            return True
        # "<headline> - Site name", but never a whole paragraph opening with the headline
        if len(h) > 20 and norm.startswith(h) and len(norm) <= 1.5 * len(h) + 10:
            return True
    return False


def strip_head(lines: list[str], meta: PageMeta | None) -> list[str]:
    """Remove the headline (and a standfirst equal to the description) at the top."""
    if meta is None:
        return lines
    headlines = [h for h in (_norm(x) for x in meta.headlines) if h]
    out = list(lines)
    for _ in range(_HEAD_LINES):
        content = [i for i, line in enumerate(out) if line.strip()]
        if len(content) < 2:
            break
        first = out[content[0]]
        if _is_heading_copy(first, headlines):
            del out[content[0]]
            continue
        break
    return out


def clean_text(text: str, meta: PageMeta | None = None) -> str:
    """Remove boilerplate lines and collapse blank runs; keeps paragraph breaks."""
    lines = [line.rstrip() for line in text.splitlines()]
    kept = strip_head([line for line in lines if not is_boilerplate(line)], meta)
    out: list[str] = []
    for line in kept:
        if line.strip() or (out and out[-1].strip()):
            out.append(line)
    return "\n".join(out).strip()
