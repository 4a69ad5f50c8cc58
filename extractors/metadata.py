"""Article metadata from what publishers declare: JSON-LD first, then `<meta>`.

Publishers put their own title, byline and dates into schema.org JSON-LD
and Open Graph tags for search engines; those are more reliable than
anything guessed from the visible layout, so they win. htmldate fills the
date only when nothing is declared.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin

from lxml.html import HtmlElement

log = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "reviewnewsarticle", "backgroundnewsarticle", "blogposting", "liveblogposting", "techarticle",
    "scholarlyarticle", "report", "socialmediaposting", "discussionforumposting", "review",
}
LISTING_TYPES = {"collectionpage", "itemlist", "searchresultspage", "profilepage"}
# Declared by listings and by careless article templates alike.
WEAK_LISTING_TYPES = {"website", "webpage"}


@dataclass
class PageMeta:
    """Declared metadata of one page; every field may be missing."""

    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    site_name: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    image: str | None = None
    og_type: str | None = None
    ld_types: frozenset[str] = frozenset()
    article_body: str | None = None
    accessible_for_free: bool | None = None
    description: str | None = None
    headlines: tuple[str, ...] = ()  # every title variant, to strip from the body


def _clean(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("url") or value.get("@id")
    if not isinstance(value, str):
        return None
    value = re.sub(r"\s+", " ", value).strip()
    return value or None


def _types(node: dict) -> set[str]:
    raw = node.get("@type")
    items = raw if isinstance(raw, list) else [raw]
    return {t.lower() for t in items if isinstance(t, str)}


def _walk_ld(data: Any):
    """Yield every dict node of a JSON-LD document, including @graph members."""
    if isinstance(data, list):
        for item in data:
            yield from _walk_ld(item)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if isinstance(data.get(key), (list, dict)):
                yield from _walk_ld(data[key])


def _load_ld(text: str) -> Any:
    text = text.strip().removeprefix("<!--").removesuffix("-->").strip()
    try:
        return json.loads(text)
    except ValueError:
        # Control characters inside strings are a common publisher mistake.
        try:
            return json.loads(re.sub(r"[\x00-\x1f]", " ", text))
        except ValueError:
            return None


def _authors(value: Any) -> str | None:
    items = value if isinstance(value, list) else [value]
    names = [n for n in (_clean(i) for i in items) if n and not n.startswith("http")]
    unique = list(dict.fromkeys(names))
    return ", ".join(unique) if unique else None


def parse_date(value: str | None) -> datetime | None:
    """Parse an ISO-ish date into an aware UTC datetime (naive means UTC)."""
    if not value:
        return None
    value = value.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    value = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        match = re.match(r"\d{4}-\d{2}-\d{2}", value)
        if not match:
            return None
        parsed = datetime.fromisoformat(match.group(0))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _json_ld(tree: HtmlElement, meta: PageMeta) -> None:
    article: dict | None = None
    types: set[str] = set()
    for script in tree.xpath('//script[contains(translate(@type,"LDJSON","ldjson"),"ld+json")]'):
        data = _load_ld(script.text_content() or "")
        for node in _walk_ld(data):
            node_types = _types(node)
            types |= node_types
            if article is None and node_types & ARTICLE_TYPES:
                article = node
            if node_types & {"website", "organization", "newsmediaorganization"} and not meta.site_name:
                meta.site_name = _clean(node.get("name"))
    meta.ld_types = frozenset(types)
    if article is None:
        return
    meta.title = _clean(article.get("headline")) or _clean(article.get("name"))
    meta.author = _authors(article.get("author") or article.get("creator"))
    meta.published_at = parse_date(_clean(article.get("datePublished")) or _clean(article.get("dateCreated")))
    publisher = article.get("publisher")
    if isinstance(publisher, dict) and _clean(publisher.get("name")):
        meta.site_name = _clean(publisher.get("name"))
    meta.image = _clean(article.get("image"))
    meta.language = _clean(article.get("inLanguage"))
    meta.article_body = article.get("articleBody") if isinstance(article.get("articleBody"), str) else None
    free = article.get("isAccessibleForFree")
    if isinstance(free, str):
        free = free.strip().lower() not in ("false", "0", "no")
    if isinstance(free, bool):
        meta.accessible_for_free = free


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.xpath("//meta[@content]"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").strip().lower()
        value = _clean(node.get("content"))
        if key and value and key not in found:
            found[key] = value
    return found


def _first(tags: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        if tags.get(key):
            return tags[key]
    return None


def extract_metadata(tree: HtmlElement, url: str) -> PageMeta:
    """Collect declared metadata; JSON-LD beats Open Graph beats plain tags."""
    meta = PageMeta()
    try:
        _json_ld(tree, meta)
    except Exception:  # malformed structures must never cost us the article
        log.debug("JSON-LD parsing failed for %s", url, exc_info=True)
    tags = _meta_tags(tree)
    meta.og_type = (tags.get("og:type") or "").lower() or None
    title_el = tree.find(".//title")
    page_title = _clean(title_el.text_content()) if title_el is not None else None
    meta.title = meta.title or _first(tags, "og:title", "twitter:title", "title") or page_title
    h1 = [_clean(el.text_content()) for el in tree.xpath("//h1")[:2]]
    variants = [meta.title, tags.get("og:title"), tags.get("twitter:title"), page_title, *h1]
    meta.headlines = tuple(dict.fromkeys(v for v in variants if v))
    meta.description = _first(tags, "og:description", "description", "twitter:description")
    meta.author = meta.author or _first(tags, "author", "article:author", "byl", "sailthru.author", "parsely-author", "dc.creator")
    if meta.author and meta.author.lower().startswith("by "):
        meta.author = meta.author[3:].strip()
    if meta.author and meta.author.startswith("http"):
        meta.author = None
    meta.published_at = meta.published_at or parse_date(
        _first(tags, "article:published_time", "og:article:published_time", "datepublished",
               "publish-date", "pubdate", "date", "dc.date.issued", "dc.date", "parsely-pub-date", "sailthru.date")
    )
    meta.site_name = meta.site_name or _first(tags, "og:site_name", "application-name", "publisher")
    meta.image = meta.image or _first(tags, "og:image", "og:image:url", "twitter:image")
    lang = meta.language or tree.get("lang") or tree.get("xml:lang") or _first(tags, "og:locale", "content-language", "language")
    meta.language = lang.replace("_", "-").split("-")[0].lower() if lang else None
    canonical = tree.xpath('//link[translate(@rel,"CANONICAL","canonical")="canonical"]/@href')
    meta.canonical_url = _clean(canonical[0]) if canonical else _first(tags, "og:url")
    if meta.canonical_url:
        meta.canonical_url = urljoin(url or "", meta.canonical_url)
    if meta.image:
        meta.image = urljoin(url or "", meta.image)
    return meta


def guess_date(tree: HtmlElement, url: str) -> datetime | None:
    """Ask htmldate for the original publication date when none is declared.

    htmldate may prune the tree it is given, so call it last.
    """
    try:
        from htmldate import find_date

        found = find_date(tree, url=url or None, original_date=True, extensive_search=False, outputformat="%Y-%m-%d")
    except Exception:
        log.debug("htmldate failed for %s", url, exc_info=True)
        return None
    return parse_date(found) if found else None
