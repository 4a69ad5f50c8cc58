"""Turn fetched HTML bytes into text, trusting the bytes over the declaration.

Servers and `<meta charset>` lie often enough (UTF-8 pages labelled
windows-1252, legacy Japanese pages with no label at all) that mojibake
would otherwise reach drafts. Order: BOM, strict UTF-8, the declared
charset if it decodes cleanly, then charset_normalizer's best guess.
UTF-8 that a site's own software decoded once too often ("itâ€™s") is
repaired (see `mojibake`).
"""
from __future__ import annotations

import codecs
import re

from .mojibake import looks_doubly_encoded, repair_mojibake

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# Browsers treat these labels as windows-1252, which is a superset.
_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252"}
_SNIFF_BYTES = 4096
# Pages in these languages legitimately use cp1250/latin-2, so keep the guess.
_CENTRAL_EUROPEAN_LANG = re.compile(rb"""\blang\s*=\s*["']?(pl|cs|sk|hu|sl|hr|ro|bs|sr)\b""", re.I)


def declared_charset(data: bytes) -> str | None:
    """The charset named in a `<meta>` near the top of the page, if valid."""
    match = _META_CHARSET.search(data[:_SNIFF_BYTES])
    if not match:
        return None
    label = match.group(1).decode("ascii", "ignore").lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(data: bytes | str) -> str:
    """Decode page bytes to str; never raises, at worst replaces bad bytes."""
    if isinstance(data, str):
        return data
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _strict(data, encoding)
            if text is not None:
                return text
    # Valid UTF-8 with non-ASCII bytes is almost never an accident.
    text = _strict(data, "utf-8")
    if text is not None:
        return repair_mojibake(text) if looks_doubly_encoded(data) else text
    declared = declared_charset(data)
    if declared and declared not in ("utf-8", "utf_8"):
        text = _strict(data, declared)
        if text is not None:
            return text
    guess = _normalizer_guess(data)
    if guess is not None:
        return guess
    return data.decode(declared or "utf-8", errors="replace")


def _normalizer_guess(data: bytes) -> str | None:
    """charset_normalizer's guess, nudged to windows-1252 among Latin code pages.

    Short Western pages are statistically ambiguous between cp1250/cp1252/
    latin-9; windows-1252 is by far the most common legacy encoding on the
    web (browsers default to it), so it wins whenever it decodes cleanly.
    """
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: trafilatura normally pulls it in
        return None
    best = from_bytes(data).best()
    if best is None:
        return None
    if _is_latin_single_byte(best.encoding) and not _CENTRAL_EUROPEAN_LANG.search(data[:_SNIFF_BYTES]):
        text = _strict(data, "cp1252")
        if text is not None:
            return text
    return str(best)


def _is_latin_single_byte(encoding: str) -> bool:
    name = encoding.lower().replace("_", "-")
    return name.startswith(("cp125", "windows-125", "iso8859", "iso-8859", "latin", "mac-", "mac_")) and name not in (
        "cp1251", "windows-1251", "cp1253", "windows-1253", "cp1255", "cp1256", "iso8859-5", "iso8859-7", "iso8859-8",
    )
