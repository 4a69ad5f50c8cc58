"""Drop boilerplate lines that survive extraction inside the article body.

Share prompts, "Advertisement" markers, newsletter pitches and photo
credits sit between paragraphs on most news sites; they are short lines
with a recognisable shape, so line-level patterns remove them safely.
"""
from __future__ import annotations

import re

_BOILERPLATE = re.compile(
    r"""^(
        advertisement|advertising|ad|sponsored( content)?|story continues below( advertisement)?
      | (continue|keep) reading( (below|the main story))?
      | (share|tweet|email|print|save|copy link|comment)(\s+(this|on|via|article|story|link|to)\b.*)?
      | share (this|on) .*
      | (sign up|subscribe) (for|to) (our|the) .{0,60}newsletters?.*
      | (photo|image|picture|illustration|credit|photograph|video)s?\s*(by|credit|:)\s*.{0,80}
      | read (more|next|also)\s*:.*
      | related( articles| stories| coverage)?\s*:?
      | (follow|like) us on .{0,60}
    )\s*[.!]?\s*$""",
    re.I | re.X,
)
_MAX_BOILERPLATE_WORDS = 16


def is_boilerplate(line: str) -> bool:
    """True for a short line that matches a known non-article shape."""
    stripped = line.strip()
    if not stripped:
        return False
    if len(stripped.split()) > _MAX_BOILERPLATE_WORDS:
        return False
    return bool(_BOILERPLATE.match(stripped))


def clean_text(text: str) -> str:
    """Remove boilerplate lines and collapse blank runs; keeps paragraph breaks."""
    lines = [line.rstrip() for line in text.splitlines()]
    kept = [line for line in lines if not is_boilerplate(line)]
    out: list[str] = []
    for line in kept:
        if line.strip() or (out and out[-1].strip()):
            out.append(line)
    return "\n".join(out).strip()
