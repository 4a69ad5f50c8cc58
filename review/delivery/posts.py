"""The text of a chat/social post: the digest's title, its headline list and its link, within each network's limit.

Limits, as each network counts them:
- Bluesky: 300 graphemes (user-perceived characters: an emoji flag is one) and
  3000 UTF-8 bytes; the link is made clickable by a facet (byte offsets).
- Mastodon: 500 characters by default (the instance may allow more); every
  URL counts as 23 whatever its length.
- Telegram: 4096 characters (UTF-16 code units) of plain text.
- Discord: 2000 characters of message content.
When the whole list does not fit, headlines are dropped from the end and
"…and N more" says so; the link is never dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import lxml.html
import regex

from review.delivery.newsletter import page_title
from storage.deliveries import PublicationRef

URL_RE = re.compile(r"https?://\S+")
MASTODON_URL_LENGTH = 23


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def bluesky_fits(text: str, limit: int = 300) -> bool:
    return graphemes(text) <= limit and len(text.encode("utf-8")) <= 3000


def mastodon_length(text: str) -> int:
    return len(URL_RE.sub("x" * MASTODON_URL_LENGTH, text))


def limits(mastodon_max_chars: int = 500) -> dict[str, Callable[[str], bool]]:
    return {
        "bluesky": bluesky_fits,
        "mastodon": lambda t: mastodon_length(t) <= mastodon_max_chars,
        "telegram": lambda t: utf16_units(t) <= 4096,
        "discord": lambda t: len(t) <= 2000,
    }


def headlines(pub: PublicationRef) -> list[str]:
    """The published revision's headlines in order: from its page, or its Markdown when no page was kept."""
    out: list[str] = []
    if pub.html:
        doc = lxml.html.document_fromstring(pub.html)
        for story in doc.xpath('//*[contains(concat(" ", normalize-space(@class), " "), " story ")]'):
            heads = story.xpath(".//h2|.//h3")
            if heads:
                out.append(heads[0].text_content())
    if not out:
        for line in pub.markdown.splitlines():
            m = re.match(r"^(?:###\s+|\d+\.\s+)(.+)$", line.strip())
            if m:
                out.append(m.group(1))
    cleaned = [re.sub(r"^\d+\.\s+", "", " ".join(h.split())) for h in out]
    return [h for h in cleaned if h]


def title_line(pub: PublicationRef) -> str:
    title = page_title(pub)
    if pub.revision > 1:
        return f"Corrected ({(pub.note or 'corrected').strip()}): {title}"
    return title


def _shorten(text: str, keep: int) -> str:
    return text if len(text) <= keep else text[: max(1, keep - 1)].rstrip() + "…"


def compose(title: str, items: list[str], url: str | None, fits: Callable[[str], bool]) -> str:
    """The longest post that fits: all headlines if possible, else the first n and "…and N more"."""
    def build(n: int, head: str) -> str:
        lines = [head, ""]
        lines += [f"• {h}" for h in items[:n]]
        if n < len(items):
            lines.append(f"…and {len(items) - n} more" if n else f"{len(items)} {'story' if len(items) == 1 else 'stories'}")
        if url:
            lines += ["", url]
        return "\n".join(lines).strip()

    for n in range(len(items), -1, -1):
        text = build(n, title)
        if fits(text):
            return text
    for keep in (120, 80, 40, 10):
        text = build(0, _shorten(title, keep))
        if fits(text):
            return text
    return url or _shorten(title, 10)


@dataclass(frozen=True)
class Post:
    channel: str
    text: str
    url: str | None


def post_for(channel: str, pub: PublicationRef, url: str | None, mastodon_max_chars: int = 500) -> Post:
    fits = limits(mastodon_max_chars)[channel]
    return Post(channel=channel, text=compose(title_line(pub), headlines(pub), url, fits), url=url)


def link_facets(text: str, url: str | None) -> list[dict]:
    """Bluesky rich text: the link as a facet over its UTF-8 byte range (inclusive start, exclusive end)."""
    if not url:
        return []
    at = text.rfind(url)
    if at < 0:
        return []
    start = len(text[:at].encode("utf-8"))
    return [{
        "index": {"byteStart": start, "byteEnd": start + len(url.encode("utf-8"))},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
    }]
