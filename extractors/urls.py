"""One canonical form per URL, so the same article shared by two feeds (or a
feed and a post) dedupes to one item.

Rules: lowercase scheme and host, drop default ports, fragments and tracking
parameters, sort the remaining query parameters, resolve dot segments, and
treat a trailing slash as insignificant (stripped everywhere but the root).
Never raises: anything unparsable comes back stripped but otherwise as given.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["canonicalize", "is_tracking_param", "web_url", "TRACKING_PARAMS", "TRACKING_PREFIXES"]

TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hmb_", "__hs", "_hs", "oly_", "vero_")
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
        "wbraid", "gbraid", "igshid", "igsh", "mc_cid", "mc_eid", "mkt_tok", "_ga", "_gl",
        "ref", "ref_src", "ref_url", "cmpid", "ncid", "sr_share", "spm", "s_cid", "wickedid",
        "rb_clickid", "at_campaign", "at_medium", "smid", "trk", "trkcampaign", "hsctatracking",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PCT = re.compile(r"%[0-9a-fA-F]{2}")
# Characters kept literally in a path; everything else is percent-encoded once.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


_WEB_SCHEMES = ("http", "https")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def web_url(url: str | None) -> str | None:
    """The one URL policy: `url` (stripped) when it is an absolute http(s) URL with a host, else None.

    Everything that stores, links or fetches a URL from outside (feeds, posts,
    OPML, sources.yaml, the desk, the published digest) asks this, so a
    `javascript:`, `data:` or `file:` URL is refused in the same way everywhere.
    Browsers drop tabs and newlines inside a URL ("java\tscript:"), so a URL
    with a control character inside is refused rather than cleaned.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or _CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES or not parts.hostname:
        return None
    return url


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only tell a site where a click came from."""
    key = name.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _host(netloc_host: str) -> str:
    host = netloc_host.rstrip(".").lower()
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, so `/a/./b/../c` and `/a/c` compare equal."""
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if seg == ".":
            if i == len(segments) - 1:
                out.append("")
            continue
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if i == len(segments) - 1:
                out.append("")
            continue
        out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def _path(path: str) -> str:
    path = _remove_dot_segments(path or "/")
    # Normalise escapes: decode, then re-encode once with upper-case hex.
    path = quote(unquote(path), safe=_PATH_SAFE.replace("%", ""))
    path = _PCT.sub(lambda m: m.group(0).upper(), path)
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path


def canonicalize(url: str) -> str:
    """The canonical form of an http(s) URL; other strings come back stripped."""
    raw = (url or "").strip()
    try:
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return raw
        host = _host(parts.hostname)
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        try:
            port = parts.port
        except ValueError:
            port = None
        netloc = host
        if port is not None and port != _DEFAULT_PORTS[scheme]:
            netloc = f"{host}:{port}"
        if parts.username is not None:
            userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
            netloc = f"{userinfo}@{netloc}"
        query_pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
        query_pairs.sort(key=lambda kv: kv[0])
        query = urlencode(query_pairs, doseq=True)
        return urlunsplit((scheme, netloc, _path(parts.path), query, ""))
    except (ValueError, TypeError):
        return raw
