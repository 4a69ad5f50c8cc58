"""OPML in and out: folders and categories become tags; round trip keeps feeds."""
from __future__ import annotations

import pytest

from extractors.models import SourceSpec
from extractors.opml import OPMLError, read_opml, write_opml

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Subs</title></head><body>
  <outline text="AI">
    <outline text="Labs">
      <outline type="rss" text="Lab Blog" title="Lab Blog" xmlUrl="https://lab.example.com/feed" htmlUrl="https://lab.example.com/"/>
    </outline>
    <outline type="atom" text="Papers" xmlUrl="https://papers.example.com/atom" category="/research/ml,policy"/>
  </outline>
  <outline type="rss" text="Lab Blog" xmlUrl="https://other.example.com/feed"/>
  <outline text="Just a folder with no feeds"/>
  <outline type="json" text="JF" xmlUrl="https://jf.example.com/feed.json"/>
</body></opml>"""


def test_read_opml() -> None:
    specs = read_opml(OPML)
    assert [(s.name, s.type, s.url, s.tags) for s in specs] == [
        ("Lab Blog", "rss", "https://lab.example.com/feed", ("AI", "Labs")),
        ("Papers", "atom", "https://papers.example.com/atom", ("AI", "research", "ml", "policy")),
        ("Lab Blog (2)", "rss", "https://other.example.com/feed", ()),
        ("JF", "jsonfeed", "https://jf.example.com/feed.json", ()),
    ]


def test_round_trip() -> None:
    specs = [
        SourceSpec("One", "rss", "https://one.example.com/rss", tags=("ai", "labs")),
        SourceSpec("Two & <Co>", "atom", "https://two.example.com/atom?x=1&y=2"),
        SourceSpec("Three", "jsonfeed", "https://three.example.com/feed.json"),
        SourceSpec("Bsky", "bluesky", handle="someone.bsky.social"),
    ]
    back = read_opml(write_opml(specs))
    assert [(s.name, s.type, s.url, s.tags) for s in back] == [(s.name, s.type, s.url, s.tags) for s in specs[:3]]


def test_external_entities_are_refused() -> None:
    evil = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <opml version="2.0"><body><outline text="&x;" xmlUrl="https://e.example.com/f"/></body></opml>"""
    with pytest.raises(OPMLError, match="entit") as info:
        read_opml(evil)
    assert "root:" not in str(info.value)


def entity_bomb(levels: int = 8) -> bytes:
    decls = ['<!ENTITY e0 "lollollollollollollollollollol">']
    decls += [f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, levels)]
    return (f'<?xml version="1.0"?><!DOCTYPE opml [{"".join(decls)}]>'
            f'<opml version="2.0"><head><title>&e{levels - 1};</title></head><body>'
            f'<outline text="&e{levels - 1};" xmlUrl="https://bomb.example.com/feed"/></body></opml>').encode()


TRUNCATED = OPML[: OPML.index(b'<outline type="json"') + 30]


@pytest.mark.parametrize(("content", "message"), [
    (entity_bomb(8), "entit"),  # too large to expand: libxml2 stops it
    (entity_bomb(3), "entities"),  # small enough to expand: refused all the same
    (TRUNCATED, "truncated or malformed"),
    (OPML.replace(b"https://papers.example.com/atom", b"javascript:alert(1)"), "is not an http(s) URL"),
    (OPML.replace(b"https://jf.example.com/feed.json", b"file:///etc/passwd"), "is not an http(s) URL"),
])
def test_a_bad_opml_is_refused_whole(content: bytes, message: str) -> None:
    with pytest.raises(OPMLError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_opml(content)


@pytest.mark.parametrize("bad", [b"", b"<html><body/></html>", b"not xml"])
def test_not_opml(bad: bytes) -> None:
    with pytest.raises(OPMLError):
        read_opml(bad)
