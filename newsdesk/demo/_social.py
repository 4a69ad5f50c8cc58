"""The social posts of the sample day (all invented), in a compact form.

`_generate.py` turns these into the recorded API answers under
`sample_day/api/` in the real response shapes of each service.
`{{BASE_URL}}` is replaced by the demo server's URL at serve time.
"""
from __future__ import annotations

B = "{{BASE_URL}}"

BLUESKY_ACCOUNTS = {
    "tensortribune.example": {
        "did": "did:plc:t3nsortr1bun3xq7kd2m4a5z",
        "displayName": "Tensor Tribune",
        "description": "Independent reporting on machine learning.",
    },
    "priya.lumenlabs.example": {
        "did": "did:plc:pr1yan4irlum3n5k2c6v7b8w",
        "displayName": "Priya Nair",
        "description": "Efficiency research at Lumen Labs. Long context, sparse things.",
    },
    "lumenlabs.example": {
        "did": "did:plc:lum3nl4bs9q8w7e6r5t4y3u2",
        "displayName": "Lumen Labs",
        "description": "Research lab.",
    },
}

# Each post: author handle, rkey, text, createdAt, optional link (uri, title,
# description, shown as link_text inside the text), optional reply_to (rkey of
# parent, same author), counts. `feed` lists what each actor's getAuthorFeed
# returns, newest first; ("repost", rkey, by_handle, indexedAt) marks a repost.
BLUESKY_POSTS = {
    "3m6atlas2k4tt": {
        "author": "tensortribune.example",
        "createdAt": "2026-11-18T15:14:22.481Z",
        "text": "Meridian AI's Atlas-3 is out: 1M-token context, 71.4% on CodeTrail, $2 per million input tokens. Weights stay closed. tensor-tribune/news/meridian-ai-at\u2026",
        "link_text": "tensor-tribune/news/meridian-ai-at\u2026",
        "link": {
            "uri": f"{B}/tensor-tribune/news/meridian-ai-atlas-3-long-context",
            "title": "Atlas-3 arrives: Meridian's new model reads a million tokens and tops CodeTrail",
            "description": "Meridian AI's third-generation model is available today via API. Weights stay closed.",
        },
        "counts": {"reply": 14, "repost": 61, "like": 233, "quote": 9},
    },
    "3m6kestrl7q2p": {
        "author": "tensortribune.example",
        "createdAt": "2026-11-18T12:41:05.112Z",
        "text": "Kestrel Cloud has raised $640M led by Granite Peak Partners, at a $5.2B valuation. The plan: three new sites and ~48,000 more accelerators by end of 2027.",
        "link_text": None,
        "link": {
            "uri": f"{B}/tensor-tribune/news/kestrel-cloud-raises-640m",
            "title": "Kestrel Cloud raises $640M to add 48,000 accelerators",
            "description": "The Denver GPU cloud is now valued at $5.2 billion.",
        },
        "counts": {"reply": 3, "repost": 12, "like": 58, "quote": 1},
    },
    "3m6smrroot01a": {
        "author": "priya.lumenlabs.example",
        "createdAt": "2026-11-18T08:45:10.003Z",
        "text": "New paper! Sparse Memory Routing lets each attention head read a small learned subset of memory blocks. At 256k context, a 7B model trains with 38% less compute than dense attention. \U0001f9f5 lumen-labs/blog/sparse-mem\u2026",
        "link_text": "lumen-labs/blog/sparse-mem\u2026",
        "link": {
            "uri": f"{B}/lumen-labs/blog/sparse-memory-routing",
            "title": "Sparse Memory Routing: long-context training with 38% less compute",
            "description": "A new paper and open-source code from the Lumen Labs efficiency team.",
        },
        "counts": {"reply": 6, "repost": 40, "like": 188, "quote": 4},
    },
    "3m6smrrep02b": {
        "author": "priya.lumenlabs.example",
        "createdAt": "2026-11-18T08:46:31.870Z",
        "text": "The router is trained jointly with the model and learns to keep revisiting a few distant blocks (think: a document's table of contents) instead of using a fixed sliding window. Quality matches the dense baseline within 0.4 points on long-doc QA.",
        "reply_to": "3m6smrroot01a",
        "counts": {"reply": 1, "repost": 5, "like": 61, "quote": 0},
    },
    "3m6smrrep03c": {
        "author": "priya.lumenlabs.example",
        "createdAt": "2026-11-18T08:48:02.554Z",
        "text": "Honest limitations: no gains below 16k tokens, unstable with fewer than 32 routed blocks, and untested above 7B. Code + two checkpoints are out today under Apache-2.0. Joint work with Jonas Eriksen and Wen Li.",
        "reply_to": "3m6smrrep02b",
        "counts": {"reply": 2, "repost": 7, "like": 74, "quote": 1},
    },
    "3m3lisbon9x1h": {
        "author": "lumenlabs.example",
        "createdAt": "2026-10-02T11:05:44.000Z",
        "text": "We're opening an office in Lisbon and hiring for twelve roles in efficient training and evaluation.",
        "link_text": None,
        "link": {
            "uri": f"{B}/lumen-labs/blog/lisbon-office",
            "title": "Lumen Labs is opening an office in Lisbon",
            "description": "We are hiring research engineers and scientists.",
        },
        "counts": {"reply": 4, "repost": 30, "like": 97, "quote": 2},
    },
}

BLUESKY_FEEDS = {
    "tensortribune.example": [("post", "3m6atlas2k4tt"), ("post", "3m6kestrl7q2p")],
    "priya.lumenlabs.example": [
        ("repost", "3m3lisbon9x1h", "priya.lumenlabs.example", "2026-11-18T17:02:13.000Z"),
        ("post", "3m6smrrep03c"),
        ("post", "3m6smrrep02b"),
        ("post", "3m6smrroot01a"),
    ],
}

MASTODON_HOST = "newsfedi.example"
MASTODON_ACCOUNT = {
    "id": "109348215566201874",
    "username": "rkoval",
    "display_name": "Rita Koval",
    "note": "<p>I write a newsletter about AI and work. Views my own.</p>",
    "created_at": "2022-11-07T00:00:00.000Z",
    "followers_count": 4812,
    "following_count": 391,
    "statuses_count": 2280,
}
# id, created_at, content HTML, link (card url/title/description) or None,
# in_reply_to_id, counts (replies, reblogs, favourites)
MASTODON_STATUSES = [
    {
        "id": "113512907744518302",
        "created_at": "2026-11-18T19:45:08.000Z",
        "content": '<p><span class="h-card"><a href="https://newsfedi.example/@jt_lin" class="u-url mention">@<span>jt_lin</span></a></span> congrats on the new job, well deserved!</p>',
        "link": None,
        "in_reply_to_id": "113512861203377410",
        "in_reply_to_account_id": "110002718430011112",
        "mentions": [{"id": "110002718430011112", "username": "jt_lin", "acct": "jt_lin", "url": "https://newsfedi.example/@jt_lin"}],
        "counts": (1, 0, 3),
    },
    {
        "id": "113512419036720145",
        "created_at": "2026-11-18T15:30:41.000Z",
        "content": (
            "<p>Meridian's Atlas-3 is out, and the price went <em>down</em>: $2/M input, $8/M output, 1M-token context. "
            "Dana Okafor's pitch is that it can finish long tasks without a human checking every step. We'll see.</p>"
            f'<p><a href="{B}/circuit-ledger/2026/11/18/meridian-atlas-3-launch?utm_source=mastodon&amp;utm_medium=social" '
            'target="_blank" rel="nofollow noopener noreferrer" translate="no"><span class="invisible">http://</span>'
            '<span class="ellipsis">circuit-ledger/2026/11/18/meridia</span><span class="invisible">n-atlas-3-launch</span></a></p>'
            '<p><a href="https://newsfedi.example/tags/AI" class="mention hashtag" rel="tag">#<span>AI</span></a></p>'
        ),
        "link": {
            "url": f"{B}/circuit-ledger/2026/11/18/meridian-atlas-3-launch?utm_source=mastodon&utm_medium=social",
            "title": "Meridian AI launches Atlas-3, betting on million-token context and lower prices",
            "description": "The San Francisco lab's new flagship reads a million tokens at once and costs less than its predecessor.",
            "provider_name": "Circuit Ledger",
        },
        "tags": ["ai"],
        "counts": (7, 22, 64),
    },
    {
        "id": "113511140557203388",
        "created_at": "2026-11-18T11:20:19.000Z",
        "content": (
            "<p>Rare candour in a layoff memo: Quillon's CEO says the 1,200 cuts are about AI agents now closing 60% of "
            "support tickets, not about the economy.</p>"
            f'<p><a href="{B}/fernhill-review/2026-11-18/quillon-cuts-1200-jobs.html" target="_blank" '
            'rel="nofollow noopener noreferrer" translate="no"><span class="invisible">http://</span>'
            '<span class="ellipsis">fernhill-review/2026-11-18/quillon</span><span class="invisible">-cuts-1200-jobs.html</span></a></p>'
        ),
        "link": {
            "url": f"{B}/fernhill-review/2026-11-18/quillon-cuts-1200-jobs.html",
            "title": "Quillon's 1,200 layoffs are an automation story, and it says so",
            "description": "Unusually, the company's chief executive blamed AI rather than the economy.",
            "provider_name": "Fernhill Tech Review",
        },
        "counts": (12, 48, 120),
    },
    {
        "id": "113498002311870016",
        "created_at": "2026-11-16T09:12:55.000Z",
        "content": "<p>Newsletter is going out a day late this week. Sorry, all!</p>",
        "link": None,
        "counts": (0, 0, 11),
    },
]

REDDIT_SUBREDDIT = "ModelWatch"
REDDIT_POSTS = [
    {
        "id": "1gx7k2a",
        "title": "Meridian releases Atlas-3: 1M context, $2/M input tokens, 71.4% on CodeTrail",
        "url": f"{B}/bitstream-herald/articles/2026-11-18-atlas-3-pricing-benchmarks",
        "domain": "bitstream-herald",
        "author": "gradient_descent_daily",
        "created": "2026-11-18T16:05:33Z",
        "score": 1840,
        "num_comments": 412,
        "upvote_ratio": 0.94,
        "slug": "meridian_releases_atlas3_1m_context_2m_input",
        "flair": "News",
    },
    {
        "id": "1gx9m4q",
        "title": "Arclight Sparrow-2 Mini: 3B open weights (Apache-2.0) that runs at ~40 tok/s on a phone",
        "url": f"{B}/tensor-tribune/news/arclight-sparrow-2-mini-on-device",
        "domain": "tensor-tribune",
        "author": "quantize_everything",
        "created": "2026-11-18T19:12:09Z",
        "score": 960,
        "num_comments": 187,
        "upvote_ratio": 0.97,
        "slug": "arclight_sparrow2_mini_3b_open_weights_apache20",
        "flair": "Open weights",
    },
    {
        "id": "1gx2d0s",
        "title": "Daily discussion thread \u2014 November 18, 2026",
        "url": None,
        "selftext": "Post your questions, small finds and hot takes here. Be kind.",
        "author": "AutoModerator",
        "created": "2026-11-18T07:00:05Z",
        "score": 35,
        "num_comments": 96,
        "upvote_ratio": 0.88,
        "slug": "daily_discussion_thread_november_18_2026",
        "flair": "Discussion",
        "stickied": True,
    },
]

HN_HITS = [
    {
        "objectID": "45012345",
        "title": "Meridian AI launches Atlas-3",
        "url": f"{B}/circuit-ledger/2026/11/18/meridian-atlas-3-launch",
        "author": "tokenwrangler",
        "points": 412,
        "num_comments": 287,
        "created": "2026-11-18T15:20:47Z",
    },
    {
        "objectID": "45008810",
        "title": "Sparse Memory Routing: long-context training with 38% less compute",
        "url": f"{B}/lumen-labs/blog/sparse-memory-routing",
        "author": "attn_is_enough",
        "points": 156,
        "num_comments": 48,
        "created": "2026-11-18T10:12:30Z",
    },
    {
        "objectID": "45009534",
        "title": "Kestrel Cloud raises $640M Series D",
        "url": f"{B}/tensor-tribune/news/kestrel-cloud-raises-640m",
        "author": "gpu_landlord",
        "points": 38,
        "num_comments": 21,
        "created": "2026-11-18T12:58:02Z",
    },
    {
        "objectID": "45016002",
        "title": "Ask HN: How are you evaluating long-context models?",
        "url": None,
        "story_text": "We keep getting different answers from needle-in-a-haystack tests and real documents. What do you use?",
        "author": "evals_anon",
        "points": 4,
        "num_comments": 2,
        "created": "2026-11-18T20:31:44Z",
    },
    {
        "objectID": "44998120",
        "title": "Quillon is said to be weighing significant job cuts",
        "url": f"{B}/circuit-ledger/2026/11/17/quillon-weighing-job-cuts",
        "author": "layoff_tracker",
        "points": 64,
        "num_comments": 55,
        "created": "2026-11-17T16:48:10Z",
    },
]
