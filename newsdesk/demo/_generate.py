"""Regenerate `sample_day/` from `_content.py` and `_social.py`.

    python -m newsdesk.demo._generate

The generated files are committed; the server only reads them. Article pages
deliberately carry the usual clutter of news sites (navigation, cookie banner,
share buttons, related stories, newsletter box, footer) around the story, and
JSON-LD NewsArticle metadata plus a canonical link in the head.
"""
from __future__ import annotations

import html
import json
import shutil
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

from newsdesk.demo import _content as C
from newsdesk.demo import _social as S

OUT = Path(__file__).parent / "sample_day"
B = "{{BASE_URL}}"


def _dt(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def _rfc822(s: str) -> str:
    return format_datetime(_dt(s), usegmt=True)


def _london(s: str) -> str:
    # November: Europe/London is UTC+00:00.
    return _dt(s).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def _file_for(url_path: str) -> Path:
    rel = url_path.lstrip("/")
    if not Path(rel).suffix:
        rel += ".html"
    return OUT / "site" / rel


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _by_path() -> dict[str, dict]:
    return {a["path"]: a for a in C.ARTICLES}


def _body(a: dict) -> list[str]:
    if "wire" in a:
        w = C.WIRE[a["wire"]]
        first = f"{w['dateline']} \u2014 {w['body'][0]}"
        return [first, *w["body"][1:]]
    return a["body"]


def _human_date(s: str) -> str:
    d = _dt(s)
    return d.strftime("%B %-d, %Y at %H:%M GMT")


# --------------------------------------------------------------------------- pages

_COOKIE = {
    "circuit-ledger": ('<div id="cookie-consent" class="cookie-banner" role="dialog"><p>We use cookies and similar '
                       'technologies to personalise content and ads and to analyse our traffic. '
                       '<a href="/circuit-ledger/privacy">Privacy policy</a></p><button>Accept all</button>'
                       '<button>Manage preferences</button></div>'),
    "tensor-tribune": ('<aside class="gdpr-notice"><p>This site uses cookies for analytics. By continuing you agree '
                       'to our use of cookies.</p><button class="btn-accept">OK</button></aside>'),
    "bitstream-herald": ('<div class="consent-overlay"><div class="consent-box"><h2>Your privacy choices</h2><p>We and our '
                         '214 partners store and access information on your device.</p><button>I agree</button>'
                         '<button>Reject non-essential</button></div></div>'),
    "fernhill-review": ('<div class="cc-window"><span>Fernhill uses cookies to improve your experience.</span>'
                        '<a class="cc-btn">Got it</a></div>'),
    "harbor-city-chronicle": ('<div id="consent-bar"><p>We value your privacy. We and our partners use cookies to deliver '
                              'ads and measure performance.</p><button>Accept</button></div>'),
    "lumen-labs": "",
}


def _share(url: str) -> str:
    return (
        '<ul class="share-tools" aria-label="Share this story">'
        f'<li><a class="share-email" href="mailto:?subject=Shared%20story&amp;body={_esc(url)}">Email</a></li>'
        '<li><a class="share-bsky" href="#share-bsky">Share on Bluesky</a></li>'
        '<li><a class="share-mastodon" href="#share-mastodon">Share on Mastodon</a></li>'
        '<li><a class="share-linkedin" href="#share-linkedin">Share on LinkedIn</a></li>'
        '<li><button class="copy-link">Copy link</button></li></ul>'
    )


def _related(a: dict, articles: dict[str, dict]) -> str:
    items = []
    for p in a.get("related", []):
        r = articles[p]
        items.append(f'<li><a href="{B}{p}">{_esc(r["title"])}</a></li>')
    items.append('<li><a href="#">Sponsored: Ten cloud costs your CFO wishes you knew about</a></li>')
    return '<aside class="related-stories"><h2>Related stories</h2><ul>' + "".join(items) + "</ul></aside>"


def _jsonld(a: dict, outlet: dict) -> str:
    authors = (
        {"@type": "Organization", "name": a["author"]}
        if a["author"] in ("Wirepoint News Service", "Lumen Labs")
        else [{"@type": "Person", "name": n} for n in a["author"].replace(" and ", ", ").split(", ")]
    )
    data = {
        "@context": "https://schema.org",
        "@type": "BlogPosting" if a["outlet"] == "lumen-labs" else "NewsArticle",
        "headline": a["title"],
        "description": a["summary"],
        "datePublished": _london(a["published"]),
        "dateModified": _london(a.get("modified", a["published"])),
        "author": authors,
        "publisher": {
            "@type": "Organization",
            "name": outlet["name"],
            "logo": {"@type": "ImageObject", "url": f"{B}/{a['outlet']}/static/logo.png"},
        },
        "mainEntityOfPage": {"@type": "WebPage", "@id": f"{B}{a['path']}"},
        "image": [f"{B}/{a['outlet']}/static/img/{a['path'].rstrip('/').split('/')[-1].removesuffix('.html')}.jpg"],
        "articleSection": a["section"],
        "keywords": a["tags"],
        "inLanguage": "en",
        "isAccessibleForFree": True,
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def render_article(a: dict, articles: dict[str, dict]) -> str:
    o = C.OUTLETS[a["outlet"]]
    url = f"{B}{a['path']}"
    paras = _body(a)
    nav = "".join(f'<li><a href="/{a["outlet"]}/{n.lower().replace(" & ", "-").replace(" ", "-")}">{_esc(n)}</a></li>' for n in o["nav"])
    byline = a["author"]
    dek = f'<p class="dek">{_esc(a["dek"])}</p>' if a.get("dek") else ""
    body_html = "\n".join(f"<p>{_x(p)}</p>" for p in paras)
    if a["outlet"] == "harbor-city-chronicle" and len(paras) > 2:
        # An ad slot in the middle of the story, as newspapers do.
        mid = "\n".join(f"<p>{_x(p)}</p>" for p in paras[:2])
        rest = "\n".join(f"<p>{_x(p)}</p>" for p in paras[2:])
        body_html = f'{mid}\n<div class="ad-slot ad-inline" data-ad-unit="tech_mid">Advertisement</div>\n{rest}'
    wire_note = ""
    if "wire" in a:
        wire_note = (f'<p class="wire-credit">Copyright 2026 {C.WIRE[a["wire"]]["agency"]}. All rights reserved. '
                     "This material may not be published, broadcast, rewritten or redistributed.</p>")
    tags = "".join(f'<li><a href="/{a["outlet"]}/tag/{t.lower().replace(" ", "-")}">{_esc(t)}</a></li>' for t in a["tags"])
    time_h = _human_date(a["published"])
    wrappers = {
        "circuit-ledger": ('<article class="story" itemscope itemtype="https://schema.org/NewsArticle">', "</article>", "story-body"),
        "tensor-tribune": ('<main id="content"><div class="post">', "</div></main>", "post-content entry-content"),
        "bitstream-herald": ('<div class="layout-main"><article>', "</article></div>", "article-body"),
        "fernhill-review": ('<main role="main"><article class="analysis">', "</article></main>", "analysis-body"),
        "harbor-city-chronicle": ('<div id="main-wrap"><article class="chronicle-story">', "</article></div>", "story-text"),
        "lumen-labs": ('<main class="blog"><article class="prose">', "</article></main>", "post-body"),
    }
    open_w, close_w, body_cls = wrappers[a["outlet"]]
    newsletter = (
        f'<section class="newsletter-signup"><h2>Newsletter</h2><p>{_esc(o["newsletter"])}</p>'
        '<form action="#subscribe" method="post"><label>Email address <input type="email" name="email"></label>'
        '<button type="submit">Sign up</button></form><p class="small">By signing up you agree to our terms.</p></section>'
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(a["title"])} | {_esc(o["name"])}</title>
<meta name="description" content="{_esc(a["summary"])}">
<meta name="author" content="{_esc(byline)}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="{_esc(o["name"])}">
<meta property="og:title" content="{_esc(a["title"])}">
<meta property="og:description" content="{_esc(a["summary"])}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{_london(a["published"])}">
<link rel="canonical" href="{url}">
<link rel="alternate" type="{_feed_mime(o["feed_format"])}" title="{_esc(o["name"])}" href="{B}{o["feed_path"]}">
<script type="application/ld+json">
{_jsonld(a, o)}
</script>
<script>window.dataLayer=window.dataLayer||[];window.dataLayer.push({{"section":"{_esc(a["section"])}"}});</script>
</head>
<body class="{a["outlet"]} article-page">
{_COOKIE[a["outlet"]]}
<header class="site-header">
<a class="logo" href="{B}/{a["outlet"]}/">{_esc(o["name"])}</a>
<span class="tagline">{_esc(o["tagline"])}</span>
<nav class="main-nav" aria-label="Sections"><ul>{nav}</ul></nav>
<a class="subscribe-cta" href="/{a["outlet"]}/subscribe">Subscribe</a>
</header>
{open_w}
<header class="story-header">
<p class="kicker"><a href="/{a["outlet"]}/{a["section"].lower().replace(" & ", "-").replace(" ", "-")}">{_esc(a["section"])}</a></p>
<h1>{_esc(a["title"])}</h1>
{dek}
<p class="byline">By <span class="author">{_esc(byline)}</span></p>
<p class="dateline"><time datetime="{_london(a["published"])}">{time_h}</time></p>
</header>
{_share(url)}
<figure class="lead-image"><img src="{B}/{a["outlet"]}/static/img/lead.jpg" alt=""><figcaption>Photo illustration: {_esc(o["name"])}</figcaption></figure>
<div class="{body_cls}">
{body_html}
{wire_note}
</div>
<ul class="tags">{tags}</ul>
{_share(url)}
{close_w}
{_related(a, articles)}
{newsletter}
<footer class="site-footer">
<ul><li><a href="/{a["outlet"]}/about">About us</a></li><li><a href="/{a["outlet"]}/contact">Contact</a></li><li><a href="/{a["outlet"]}/privacy">Privacy</a></li><li><a href="/{a["outlet"]}/terms">Terms of use</a></li><li><a href="{B}{o["feed_path"]}">RSS</a></li></ul>
<p>{_esc(o["footer"])}</p>
</footer>
</body>
</html>
"""


def render_home(outlet_key: str, items: list[dict]) -> str:
    o = C.OUTLETS[outlet_key]
    lis = "".join(
        f'<li><a href="{B}{a["path"]}">{_esc(a["title"])}</a> <time datetime="{_london(a["published"])}">{_human_date(a["published"])}</time></li>'
        for a in items
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(o["name"])}</title>
<link rel="alternate" type="{_feed_mime(o["feed_format"])}" title="{_esc(o["name"])}" href="{B}{o["feed_path"]}">
</head><body class="{outlet_key} front-page"><header><h1>{_esc(o["name"])}</h1><p>{_esc(o["tagline"])}</p></header>
<main><h2>Latest</h2><ul class="river">{lis}</ul></main>
<footer><p>{_esc(o["footer"])}</p></footer></body></html>
"""


# --------------------------------------------------------------------------- feeds


def _feed_mime(fmt: str) -> str:
    return {
        "rss2": "application/rss+xml",
        "atom": "application/atom+xml",
        "jsonfeed": "application/feed+json",
        "rss1": "application/rdf+xml",
    }[fmt]


def _feed_link(a: dict, o: dict) -> str:
    url = f"{B}{a['path']}"
    return f"{url}?{o['utm']}" if o["utm"] else url


def _x(s: str) -> str:
    return html.escape(s, quote=False)


def feed_rss2(key: str, items: list[dict]) -> str:
    o = C.OUTLETS[key]
    entries = []
    for a in items:
        link = _feed_link(a, o)
        cats = "".join(f"<category>{_x(t)}</category>" for t in a["tags"])
        creator = f"<dc:creator>{_x(a['author'])}</dc:creator>"
        entries.append(
            f"""  <item>
    <title>{_x(a["title"])}</title>
    <link>{_x(link)}</link>
    <guid isPermaLink="false">{key}-{abs(hash_path(a["path"]))}</guid>
    <pubDate>{_rfc822(a["published"])}</pubDate>
    {creator}
    {cats}
    <description><![CDATA[<p>{_x(a["summary"])}</p><p><a href="{_x(link)}">Read more</a></p>]]></description>
  </item>"""
        )
    newest = max(a["published"] for a in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>{_x(o["name"])}</title>
  <link>{B}/{key}/</link>
  <atom:link href="{B}{o["feed_path"]}" rel="self" type="application/rss+xml"/>
  <description>{_x(o["tagline"])}</description>
  <language>en-gb</language>
  <lastBuildDate>{_rfc822(newest)}</lastBuildDate>
  <ttl>30</ttl>
{chr(10).join(entries)}
</channel>
</rss>
"""


def hash_path(p: str) -> int:
    import hashlib

    return int(hashlib.sha1(p.encode()).hexdigest()[:10], 16)


def feed_atom(key: str, items: list[dict]) -> str:
    o = C.OUTLETS[key]
    entries = []
    for a in items:
        link = _feed_link(a, o)
        authors = "".join(f"<author><name>{_x(n)}</name></author>" for n in a["author"].replace(" and ", ", ").split(", "))
        cats = "".join(f'<category term="{_esc(t)}"/>' for t in a["tags"])
        slug = a["path"].rstrip("/").split("/")[-1]
        entries.append(
            f"""  <entry>
    <title type="text">{_x(a["title"])}</title>
    <link rel="alternate" type="text/html" href="{_esc(link)}"/>
    <id>tag:{key}.example,2026:{slug}</id>
    <published>{a["published"]}</published>
    <updated>{a.get("modified", a["published"])}</updated>
    {authors}
    {cats}
    <summary type="html">{_x("<p>" + _x(a["summary"]) + "</p>")}</summary>
  </entry>"""
        )
    newest = max(a["published"] for a in items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>{_x(o["name"])}</title>
  <subtitle>{_x(o["tagline"])}</subtitle>
  <id>tag:{key}.example,2026:feed</id>
  <link rel="self" type="application/atom+xml" href="{B}{o["feed_path"]}"/>
  <link rel="alternate" type="text/html" href="{B}/{key}/"/>
  <updated>{newest}</updated>
{chr(10).join(entries)}
</feed>
"""


def feed_json(key: str, items: list[dict]) -> str:
    o = C.OUTLETS[key]
    data = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": o["name"],
        "home_page_url": f"{B}/{key}/",
        "feed_url": f"{B}{o['feed_path']}",
        "description": o["tagline"],
        "language": "en",
        "items": [
            {
                "id": f"{B}{a['path']}",
                "url": _feed_link(a, o),
                "title": a["title"],
                "summary": a["summary"],
                "content_html": f"<p>{_esc(a['summary'])}</p>",
                "date_published": _london(a["published"]),
                "authors": [{"name": a["author"]}],
                "tags": a["tags"],
            }
            for a in items
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def feed_rss1(key: str, items: list[dict]) -> str:
    o = C.OUTLETS[key]
    seq = "\n".join(f'        <rdf:li rdf:resource="{_esc(_feed_link(a, o))}"/>' for a in items)
    entries = []
    for a in items:
        link = _feed_link(a, o)
        entries.append(
            f"""  <item rdf:about="{_esc(link)}">
    <title>{_x(a["title"])}</title>
    <link>{_x(link)}</link>
    <description>{_x(a["summary"])}</description>
    <dc:creator>{_x(a["author"])}</dc:creator>
    <dc:date>{_london(a["published"])}</dc:date>
    <dc:subject>{_x(a["section"])}</dc:subject>
  </item>"""
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="{B}{o["feed_path"]}">
    <title>{_x(o["name"])}</title>
    <link>{B}/{key}/</link>
    <description>{_x(o["tagline"])}</description>
    <items>
      <rdf:Seq>
{seq}
      </rdf:Seq>
    </items>
  </channel>
{chr(10).join(entries)}
</rdf:RDF>
"""


_FEEDS = {"rss2": feed_rss2, "atom": feed_atom, "jsonfeed": feed_json, "rss1": feed_rss1}


# --------------------------------------------------------------------------- social APIs


def _bsky_profile(handle: str) -> dict:
    acc = S.BLUESKY_ACCOUNTS[handle]
    return {
        "did": acc["did"],
        "handle": handle,
        "displayName": acc["displayName"],
        "avatar": f"{B}/static/avatars/{handle}.jpg",
        "associated": {"chat": {"allowIncoming": "following"}},
        "labels": [],
        "createdAt": "2023-09-14T10:00:00.000Z",
    }


def _bsky_uri(rkey: str) -> str:
    post = S.BLUESKY_POSTS[rkey]
    return f"at://{S.BLUESKY_ACCOUNTS[post['author']]['did']}/app.bsky.feed.post/{rkey}"


def _bsky_cid(rkey: str) -> str:
    import hashlib

    return "bafyrei" + hashlib.sha256(rkey.encode()).hexdigest()[:52]


def _bsky_post_view(rkey: str) -> dict:
    p = S.BLUESKY_POSTS[rkey]
    record: dict = {"$type": "app.bsky.feed.post", "createdAt": p["createdAt"], "langs": ["en"], "text": p["text"]}
    view: dict = {
        "uri": _bsky_uri(rkey),
        "cid": _bsky_cid(rkey),
        "author": _bsky_profile(p["author"]),
        "record": record,
    }
    link = p.get("link")
    if link:
        lt = p.get("link_text")
        if lt:
            raw = p["text"].encode("utf-8")
            start = raw.index(lt.encode("utf-8"))
            record["facets"] = [
                {
                    "$type": "app.bsky.richtext.facet",
                    "index": {"byteStart": start, "byteEnd": start + len(lt.encode("utf-8"))},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link["uri"]}],
                }
            ]
        record["embed"] = {"$type": "app.bsky.embed.external", "external": dict(link)}
        view["embed"] = {"$type": "app.bsky.embed.external#view", "external": dict(link)}
    if p.get("reply_to"):
        root = p["reply_to"]
        while S.BLUESKY_POSTS[root].get("reply_to"):
            root = S.BLUESKY_POSTS[root]["reply_to"]
        record["reply"] = {
            "root": {"uri": _bsky_uri(root), "cid": _bsky_cid(root)},
            "parent": {"uri": _bsky_uri(p["reply_to"]), "cid": _bsky_cid(p["reply_to"])},
        }
    c = p["counts"]
    view.update(
        {
            "replyCount": c["reply"],
            "repostCount": c["repost"],
            "likeCount": c["like"],
            "quoteCount": c["quote"],
            "indexedAt": p["createdAt"],
            "labels": [],
        }
    )
    return view


def bluesky_feed(handle: str) -> dict:
    feed = []
    for entry in S.BLUESKY_FEEDS[handle]:
        rkey = entry[1]
        item: dict = {"post": _bsky_post_view(rkey)}
        p = S.BLUESKY_POSTS[rkey]
        if p.get("reply_to"):
            root = p["reply_to"]
            while S.BLUESKY_POSTS[root].get("reply_to"):
                root = S.BLUESKY_POSTS[root]["reply_to"]
            item["reply"] = {
                "root": {"$type": "app.bsky.feed.defs#postView", **_bsky_post_view(root)},
                "parent": {"$type": "app.bsky.feed.defs#postView", **_bsky_post_view(p["reply_to"])},
            }
        if entry[0] == "repost":
            item["reason"] = {
                "$type": "app.bsky.feed.defs#reasonRepost",
                "by": _bsky_profile(entry[2]),
                "indexedAt": entry[3],
            }
        feed.append(item)
    return {"feed": feed, "cursor": "2026-11-18T08:45:10.003Z"}


def _masto_account() -> dict:
    a = S.MASTODON_ACCOUNT
    return {
        "id": a["id"],
        "username": a["username"],
        "acct": a["username"],
        "display_name": a["display_name"],
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": a["created_at"],
        "note": a["note"],
        "url": f"https://{S.MASTODON_HOST}/@{a['username']}",
        "uri": f"https://{S.MASTODON_HOST}/users/{a['username']}",
        "avatar": f"{B}/static/avatars/{a['username']}.png",
        "avatar_static": f"{B}/static/avatars/{a['username']}.png",
        "header": "",
        "header_static": "",
        "followers_count": a["followers_count"],
        "following_count": a["following_count"],
        "statuses_count": a["statuses_count"],
        "last_status_at": "2026-11-18",
        "emojis": [],
        "fields": [{"name": "Newsletter", "value": "Work, automated", "verified_at": None}],
    }


def mastodon_statuses() -> list[dict]:
    acct = _masto_account()
    out = []
    for s in S.MASTODON_STATUSES:
        replies, reblogs, favs = s["counts"]
        card = None
        if s["link"]:
            card = {
                "url": s["link"]["url"],
                "title": s["link"]["title"],
                "description": s["link"]["description"],
                "type": "link",
                "author_name": "",
                "author_url": "",
                "provider_name": s["link"]["provider_name"],
                "provider_url": "",
                "html": "",
                "width": 0,
                "height": 0,
                "image": None,
                "embed_url": "",
                "blurhash": None,
            }
        out.append(
            {
                "id": s["id"],
                "created_at": s["created_at"],
                "in_reply_to_id": s.get("in_reply_to_id"),
                "in_reply_to_account_id": s.get("in_reply_to_account_id"),
                "sensitive": False,
                "spoiler_text": "",
                "visibility": "public",
                "language": "en",
                "uri": f"https://{S.MASTODON_HOST}/users/{acct['username']}/statuses/{s['id']}",
                "url": f"https://{S.MASTODON_HOST}/@{acct['username']}/{s['id']}",
                "replies_count": replies,
                "reblogs_count": reblogs,
                "favourites_count": favs,
                "edited_at": None,
                "content": s["content"],
                "reblog": None,
                "application": None,
                "account": acct,
                "media_attachments": [],
                "mentions": s.get("mentions", []),
                "tags": [{"name": t, "url": f"https://{S.MASTODON_HOST}/tags/{t}"} for t in s.get("tags", [])],
                "emojis": [],
                "card": card,
                "poll": None,
            }
        )
    return out


def reddit_listing() -> dict:
    children = []
    for p in S.REDDIT_POSTS:
        sub = S.REDDIT_SUBREDDIT
        permalink = f"/r/{sub}/comments/{p['id']}/{p['slug']}/"
        is_self = p["url"] is None
        children.append(
            {
                "kind": "t3",
                "data": {
                    "subreddit": sub,
                    "subreddit_name_prefixed": f"r/{sub}",
                    "subreddit_id": "t5_8kq2xw",
                    "id": p["id"],
                    "name": f"t3_{p['id']}",
                    "title": p["title"],
                    "selftext": p.get("selftext", ""),
                    "author": p["author"],
                    "author_fullname": "t2_" + p["author"][:8].lower(),
                    "url": p["url"] or f"https://www.reddit.com{permalink}",
                    "url_overridden_by_dest": p["url"],
                    "domain": p.get("domain") or f"self.{sub}",
                    "permalink": permalink,
                    "is_self": is_self,
                    "created": _dt(p["created"]).timestamp(),
                    "created_utc": _dt(p["created"]).timestamp(),
                    "score": p["score"],
                    "ups": p["score"],
                    "downs": 0,
                    "upvote_ratio": p["upvote_ratio"],
                    "num_comments": p["num_comments"],
                    "link_flair_text": p["flair"],
                    "stickied": p.get("stickied", False),
                    "over_18": False,
                    "spoiler": False,
                    "locked": False,
                    "thumbnail": "self" if is_self else "default",
                    "post_hint": None if is_self else "link",
                },
            }
        )
    for c in children:
        if c["data"]["post_hint"] is None:
            del c["data"]["post_hint"]
    return {
        "kind": "Listing",
        "data": {"after": None, "dist": len(children), "modhash": "", "geo_filter": None, "children": children, "before": None},
    }


def hn_search() -> dict:
    hits = []
    for h in sorted(S.HN_HITS, key=lambda h: h["created"], reverse=True):
        ts = int(_dt(h["created"]).timestamp())
        hits.append(
            {
                "_highlightResult": {"title": {"value": h["title"], "matchLevel": "none", "matchedWords": []}},
                "_tags": ["story", f"author_{h['author']}", f"story_{h['objectID']}"] + (["ask_hn"] if h["url"] is None else []),
                "author": h["author"],
                "children": [],
                "created_at": h["created"].replace("Z", ".000Z"),
                "created_at_i": ts,
                "num_comments": h["num_comments"],
                "objectID": h["objectID"],
                "points": h["points"],
                "story_id": int(h["objectID"]),
                "title": h["title"],
                "updated_at": h["created"].replace("Z", ".000Z"),
                **({"url": h["url"]} if h["url"] else {"story_text": h.get("story_text", "")}),
            }
        )
    return {
        "exhaustive": {"nbHits": True, "typo": True},
        "exhaustiveNbHits": True,
        "hits": hits,
        "hitsPerPage": 100,
        "nbHits": len(hits),
        "nbPages": 1,
        "page": 0,
        "params": "",
        "processingTimeMS": 3,
        "query": "",
    }


# --------------------------------------------------------------------------- main


def _dump(path: Path, data) -> None:
    _write(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def main() -> None:
    site = OUT / "site"
    api = OUT / "api"
    for d in (site, api):
        if d.exists():
            shutil.rmtree(d)
    articles = _by_path()
    for a in C.ARTICLES:
        _write(_file_for(a["path"]), render_article(a, articles))
    for key, o in C.OUTLETS.items():
        items = sorted((a for a in C.ARTICLES if a["outlet"] == key), key=lambda a: a["published"], reverse=True)
        _write(OUT / "site" / o["feed_path"].lstrip("/"), _FEEDS[o["feed_format"]](key, items))
        _write(OUT / "site" / key / "index.html", render_home(key, items))
    _write(site / "robots.txt", "User-agent: *\nDisallow: /private/\n")
    _write(
        site / "feeds" / "broken.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Quarry Wire</title>\n'
        "<item><title>Half a headline & an unescaped ampersand</title><link>{{BASE_URL}}/quarry-wire/1\n"
        "<description><p>Unclosed tags everywhere</description>\n</item\n<item><title>Truncated",
    )
    _write(site / "private" / "staff-notes.html", "<!DOCTYPE html><html><body><p>Not for robots.</p></body></html>\n")
    for handle in S.BLUESKY_FEEDS:
        _dump(api / "bluesky" / f"{handle}.json", bluesky_feed(handle))
    _dump(api / "mastodon" / "lookup" / f"{S.MASTODON_ACCOUNT['username']}.json", _masto_account())
    _dump(api / "mastodon" / "statuses" / f"{S.MASTODON_ACCOUNT['id']}.json", mastodon_statuses())
    _dump(api / "reddit" / f"{S.REDDIT_SUBREDDIT.lower()}.json", reddit_listing())
    _dump(api / "hackernews" / "search_by_date.json", hn_search())
    _write(
        site / "index.html",
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>newsdesk sample day 2026-11-19</title></head><body>"
        "<h1>newsdesk sample day</h1><ul>"
        + "".join(f'<li><a href="{B}/{k}/">{_esc(o["name"])}</a> (<a href="{B}{o["feed_path"]}">feed</a>)</li>' for k, o in C.OUTLETS.items())
        + "</ul><p>Everything here is invented.</p></body></html>\n",
    )


if __name__ == "__main__":
    main()
