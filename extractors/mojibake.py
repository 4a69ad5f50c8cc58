"""Undo UTF-8 text that was decoded as Latin-1 or windows-1252 once too often.

A page whose database or template layer mangled its text serves valid
UTF-8 bytes that spell "Itâ€™s" or "Ã©tÃ©" instead of "It’s" and "été".
Decoding is then correct and the damage is in the text itself, so it
would reach drafts and split words at every apostrophe. Each damaged
character is a run of 2-4 characters that, mapped back to their
single-byte values, form one valid UTF-8 sequence; only such runs are
rewritten, and only on a page that holds several, since one "Ã©" may be
a quotation of mojibake rather than mojibake.
"""
from __future__ import annotations

import re

# windows-1252 puts printable characters (€, ’, ™ ...) where Latin-1 has
# the C1 controls 0x80-0x9f; a mangled page may show either.
_CP1252_HIGH = {bytes([b]).decode("cp1252"): b for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
_CONT = "\u0080-\u00bf" + "".join(_CP1252_HIGH)
_RUN = re.compile(f"[\u00c2-\u00df][{_CONT}]|[\u00e0-\u00ef][{_CONT}]{{2}}|[\u00f0-\u00f4][{_CONT}]{{3}}")
# The same runs as UTF-8 bytes: a lead character U+00C2-U+00F4 (C3 82-B4)
# followed by a continuation character (U+0080-U+00BF, or one of
# windows-1252's letters and punctuation, encoded in 2-3 bytes). Searching
# the bytes with a literal first byte costs well under a millisecond a page.
_RUN_BYTES = re.compile(rb"\xc3[\x82-\xb4](?:\xc2[\x80-\xbf]|\xe2[\x80-\x84][\x80-\xbf]|[\xc5\xc6\xcb][\x80-\xbf])")
MIN_RUNS = 3  # fewer is as likely a legitimate "×\u00a0" or a quoted example


def looks_doubly_encoded(data: bytes) -> bool:
    """True when UTF-8 `data` holds at least MIN_RUNS runs shaped like doubly decoded characters."""
    found = 0
    for _ in _RUN_BYTES.finditer(data):
        found += 1
        if found >= MIN_RUNS:
            return True
    return False


def _byte(char: str) -> int:
    return _CP1252_HIGH.get(char, ord(char))


def _repair(match: re.Match[str]) -> str:
    run = match.group(0)
    try:
        return bytes(_byte(c) for c in run).decode("utf-8")
    except UnicodeDecodeError:
        return run  # e.g. "Â£" followed by a letter: not a complete sequence, leave it


def repair_mojibake(text: str) -> str:
    """`text` with every run that spells one doubly decoded UTF-8 character restored."""
    return _RUN.sub(_repair, text)
