"""Canonical URLs: each case states the input and the one form it must take."""
from __future__ import annotations

import pytest

from extractors.urls import canonicalize, is_tracking_param

CASES = [
    ("HTTPS://Example.COM/a", "https://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com/a#section-2", "https://example.com/a"),
    ("https://example.com/a?utm_source=x&utm_medium=y&id=3", "https://example.com/a?id=3"),
    ("https://example.com/a?fbclid=1&gclid=2&ref=hn&ref_src=twsrc", "https://example.com/a"),
    ("https://example.com/a?mc_cid=1&mc_eid=2&igshid=3&_hsenc=4&_hsmi=5", "https://example.com/a"),
    ("https://example.com/a?UTM_Campaign=x&b=1", "https://example.com/a?b=1"),
    ("https://example.com/a?b=2&a=1&c=3", "https://example.com/a?a=1&b=2&c=3"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
    ("https://example.com/a/", "https://example.com/a"),
    ("https://example.com/a//", "https://example.com/a"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/", "https://example.com/"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
    ("https://example.com/a b", "https://example.com/a%20b"),
    ("https://example.com./a", "https://example.com/a"),
    ("https://example.com/a?q=", "https://example.com/a?q="),
    ("  https://example.com/a  ", "https://example.com/a"),
    ("https://[::1]:8080/a", "https://[::1]:8080/a"),
    ("mailto:someone@example.com", "mailto:someone@example.com"),
    ("not a url", "not a url"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_canonicalize(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


@pytest.mark.parametrize(("raw", "_"), CASES)
def test_canonicalize_is_idempotent(raw: str, _: str) -> None:
    once = canonicalize(raw)
    assert canonicalize(once) == once


def test_equivalent_urls_collapse() -> None:
    variants = [
        "https://Example.com/post/1/?utm_source=rss",
        "https://example.com:443/post/1#comments",
        "https://example.com/post/1?fbclid=abc",
    ]
    assert len({canonicalize(v) for v in variants}) == 1


def test_tracking_param_names() -> None:
    assert is_tracking_param("utm_content")
    assert is_tracking_param("FBCLID")
    assert not is_tracking_param("id")
    assert not is_tracking_param("page")


# -- the one URL policy (web_url): stored, linked and fetched URLs --------------------------

from extractors.urls import web_url  # noqa: E402

UNSAFE = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "mailto:a@example.com",
    "//example.com/no-scheme",
    "/relative/path",
    "https://",
    "https://example.com:99999/bad-port",
    "https://exa\nmple.com/",
    "",
    None,
]


@pytest.mark.parametrize("url", UNSAFE)
def test_web_url_refuses_everything_but_absolute_http(url) -> None:
    assert web_url(url) is None


@pytest.mark.parametrize("url", ["https://example.com/a?b=1", "http://127.0.0.1:8080/x", "HTTPS://Example.com/"])
def test_web_url_keeps_http_and_https(url: str) -> None:
    assert web_url(url) == url


def test_render_safe_url_is_the_same_policy() -> None:
    from summarizer.render import safe_url

    for url in UNSAFE:
        assert safe_url(url) is None
    assert safe_url(" https://example.com/a ") == "https://example.com/a"
