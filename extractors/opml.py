"""OPML import/export, so editors can move their feed lists in and out of newsdesk.

Folders (nested outlines without a feed URL) and `category` attributes
become tags. Parsing refuses external entities and never touches the network.
"""
from __future__ import annotations

from lxml import etree

from extractors.models import SourceSpec
from extractors.urls import web_url

__all__ = ["OPMLError", "read_opml", "write_opml"]

_FEED_TYPES = {"rss": "rss", "atom": "atom", "json": "jsonfeed", "jsonfeed": "jsonfeed", "feed": "feed"}
_WRITE_TYPES = {"rss": "rss", "atom": "atom", "jsonfeed": "json", "feed": "rss"}


class OPMLError(ValueError):
    """The document is not OPML, or not one that can be imported whole."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _tags_from_category(value: str | None) -> list[str]:
    tags: list[str] = []
    for path in (value or "").split(","):
        tags.extend(seg.strip() for seg in path.split("/") if seg.strip())
    return tags


def read_opml(content: bytes) -> list[SourceSpec]:
    """Every outline with an `xmlUrl`, tagged with its folders and categories.

    All or nothing: a truncated or malformed file, one that declares entities
    (an entity-expansion bomb has no other use in a feed list) or an outline
    whose xmlUrl is not http(s) raises OPMLError, so an import never adds
    half a list or a `javascript:` source.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(content, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise OPMLError(f"not OPML (truncated or malformed XML): {_one_line(exc)}") from None
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise OPMLError("not OPML: root element is not <opml>")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and next(iter(dtd.iterentities()), None) is not None:
        raise OPMLError("OPML that declares XML entities is refused (entity expansion)")
    body = next((el for el in root if isinstance(el.tag, str) and etree.QName(el).localname.lower() == "body"), None)
    if body is None:
        return []
    specs: list[SourceSpec] = []
    names: set[str] = set()

    def walk(parent: etree._Element, folders: tuple[str, ...]) -> None:
        for el in parent:
            if not isinstance(el.tag, str) or etree.QName(el).localname.lower() != "outline":
                continue
            label = (el.get("title") or el.get("text") or "").strip()
            url = (el.get("xmlUrl") or el.get("xmlurl") or "").strip()
            if not url:
                walk(el, folders + ((label,) if label else ()))
                continue
            if not web_url(url):
                raise OPMLError(f"outline {label[:80] or '(untitled)'!r}: xmlUrl {url[:100]!r} is not an http(s) URL")
            tags = list(folders) + _tags_from_category(el.get("category"))
            name = label or url
            unique, n = name, 2
            while unique in names:
                unique, n = f"{name} ({n})", n + 1
            names.add(unique)
            kind = _FEED_TYPES.get((el.get("type") or "rss").strip().lower(), "feed")
            specs.append(SourceSpec(name=unique, type=kind, url=url, tags=tuple(dict.fromkeys(tags))))
            walk(el, folders)  # some files nest feeds under feeds

    walk(body, ())
    return specs


def write_opml(specs: list[SourceSpec], title: str = "newsdesk sources") -> bytes:
    """OPML 2.0 for the feed sources (posts from social networks have no OPML form)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for spec in specs:
        if spec.type not in _WRITE_TYPES or not spec.url:
            continue
        attrs = {"type": _WRITE_TYPES[spec.type], "text": spec.name, "title": spec.name, "xmlUrl": spec.url}
        if spec.tags:
            attrs["category"] = ",".join(spec.tags)
        etree.SubElement(body, "outline", attrs)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
