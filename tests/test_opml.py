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


def test_external_entities_are_not_resolved() -> None:
    evil = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <opml version="2.0"><body><outline text="&x;" xmlUrl="https://e.example.com/f"/></body></opml>"""
    specs = read_opml(evil)
    assert len(specs) == 1 and "root:" not in specs[0].name


@pytest.mark.parametrize("bad", [b"", b"<html><body/></html>", b"not xml"])
def test_not_opml(bad: bytes) -> None:
    with pytest.raises(OPMLError):
        read_opml(bad)
