"""What the clustering stage should make of the sample day.

References ("refs") are either article URL paths on the demo server (starting
with "/", without query string; prefix them with the base URL) or the guid the
post collectors give a post:

- Bluesky:   the post's at-URI (``at://did:plc:.../app.bsky.feed.post/<rkey>``)
- Mastodon:  the status ``uri`` (``https://newsfedi.example/users/rkoval/statuses/<id>``)
- Reddit:    ``reddit:t3_<id>``
- Hacker News: ``hn:<objectID>``

`item_ref(item, base_url)` gives the ref of a collected item or stored
document. `POSTS` maps every post ref to its public URL, the article paths it
links to, and the source name in `demo_sources()`. `MERGED_INTO` says which
posts a collector that folds self-reply threads into their first post will
merge, and into which.
"""
from __future__ import annotations

from urllib.parse import urlsplit

SAMPLE_DAY = "2026-11-19"
# The 24 hours the digest for SAMPLE_DAY covers (06:00 Europe/London = 06:00 UTC in November).
WINDOW_START_UTC = "2026-11-18T06:00:00Z"
WINDOW_END_UTC = "2026-11-19T06:00:00Z"

_TT_DID = "did:plc:t3nsortr1bun3xq7kd2m4a5z"
_PN_DID = "did:plc:pr1yan4irlum3n5k2c6v7b8w"
_LL_DID = "did:plc:lum3nl4bs9q8w7e6r5t4y3u2"

BSKY_ATLAS = f"at://{_TT_DID}/app.bsky.feed.post/3m6atlas2k4tt"
BSKY_KESTREL = f"at://{_TT_DID}/app.bsky.feed.post/3m6kestrl7q2p"
BSKY_SMR_ROOT = f"at://{_PN_DID}/app.bsky.feed.post/3m6smrroot01a"
BSKY_SMR_REPLY1 = f"at://{_PN_DID}/app.bsky.feed.post/3m6smrrep02b"
BSKY_SMR_REPLY2 = f"at://{_PN_DID}/app.bsky.feed.post/3m6smrrep03c"
BSKY_LISBON_REPOST = f"at://{_LL_DID}/app.bsky.feed.post/3m3lisbon9x1h"
MASTO_ATLAS = "https://newsfedi.example/users/rkoval/statuses/113512419036720145"
MASTO_QUILLON = "https://newsfedi.example/users/rkoval/statuses/113511140557203388"
MASTO_REPLY = "https://newsfedi.example/users/rkoval/statuses/113512907744518302"
MASTO_OLD = "https://newsfedi.example/users/rkoval/statuses/113498002311870016"
REDDIT_ATLAS = "reddit:t3_1gx7k2a"
REDDIT_SPARROW = "reddit:t3_1gx9m4q"
REDDIT_DAILY_THREAD = "reddit:t3_1gx2d0s"
HN_ATLAS = "hn:45012345"
HN_SMR = "hn:45008810"
HN_KESTREL = "hn:45009534"
HN_ASK_LOW_POINTS = "hn:45016002"
HN_QUILLON_RUMOR = "hn:44998120"

# Article paths, named for readability.
CL_ATLAS = "/circuit-ledger/2026/11/18/meridian-atlas-3-launch"
TT_ATLAS = "/tensor-tribune/news/meridian-ai-atlas-3-long-context"
BH_ATLAS = "/bitstream-herald/articles/2026-11-18-atlas-3-pricing-benchmarks"
FR_ATLAS = "/fernhill-review/2026-11-18/meridian-atlas-3-first-look.html"
TT_KESTREL = "/tensor-tribune/news/kestrel-cloud-raises-640m"
BH_KESTREL = "/bitstream-herald/articles/2026-11-18-kestrel-cloud-series-d"
HC_KESTREL = "/harbor-city-chronicle/business/tech/kestrel-cloud-funding-5-2-billion"
CL_QUILLON = "/circuit-ledger/2026/11/18/quillon-layoffs-ai-support"
FR_QUILLON = "/fernhill-review/2026-11-18/quillon-cuts-1200-jobs.html"
CL_QUILLON_RUMOR = "/circuit-ledger/2026/11/17/quillon-weighing-job-cuts"
TT_BRIGHTMOOR = "/tensor-tribune/news/brightmoor-analytics-cuts-340-jobs"
CL_TIDEWELL = "/circuit-ledger/2026/11/18/tidewell-robotics-series-b"
HC_SOLVANE = "/harbor-city-chronicle/business/tech/solvane-earnings-ai-chips"
BH_SOLVANE = "/bitstream-herald/articles/2026-11-18-solvane-q3-revenue"
LL_SMR = "/lumen-labs/blog/sparse-memory-routing"
LL_LANTERN = "/lumen-labs/blog/eval-harness-open-source"
LL_LISBON = "/lumen-labs/blog/lisbon-office"
FR_FESB = "/fernhill-review/2026-11-18/fesb-incident-reporting-draft.html"
TT_SPARROW = "/tensor-tribune/news/arclight-sparrow-2-mini-on-device"
HC_SPARROW = "/harbor-city-chronicle/business/tech/arclight-sparrow-phone-model"

# Titles in the order of EXPECTED_STORIES (for messages in test failures).
EXPECTED_STORY_TITLES: list[str] = [
    "Meridian AI launches Atlas-3",
    "Kestrel Cloud raises $640M Series D",
    "Quillon cuts 1,200 jobs citing AI agents",
    "Brightmoor Analytics cuts 340 jobs after contract loss",
    "Tidewell Robotics raises $85M Series B",
    "Solvane Q3 revenue up 62% (wire copy on two sites)",
    "Lumen Labs: Sparse Memory Routing paper",
    "FESB draft 72-hour incident reporting standard",
    "Arclight releases Sparrow-2 Mini on-device model",
]

# Every in-window item of the day belongs to exactly one of these groups.
EXPECTED_STORIES: list[list[str]] = [
    # 4 outlets + Bluesky + Mastodon + Reddit + Hacker News
    [CL_ATLAS, TT_ATLAS, BH_ATLAS, FR_ATLAS, BSKY_ATLAS, MASTO_ATLAS, REDDIT_ATLAS, HN_ATLAS],
    # 3 outlets + Bluesky + Hacker News
    [TT_KESTREL, BH_KESTREL, HC_KESTREL, BSKY_KESTREL, HN_KESTREL],
    # 2 outlets + Mastodon
    [CL_QUILLON, FR_QUILLON, MASTO_QUILLON],
    [TT_BRIGHTMOOR],
    [CL_TIDEWELL],
    # the same wire text on two sites
    [HC_SOLVANE, BH_SOLVANE],
    # lab blog post + a Bluesky thread of a root and two self-replies + Hacker News
    [LL_SMR, BSKY_SMR_ROOT, BSKY_SMR_REPLY1, BSKY_SMR_REPLY2, HN_SMR],
    [FR_FESB],
    # 2 outlets + Reddit
    [TT_SPARROW, HC_SPARROW, REDDIT_SPARROW],
]

# The syndicated pair: identical story text, different page furniture.
SYNDICATED_PAIRS: list[tuple[str, str]] = [(HC_SOLVANE, BH_SOLVANE)]

# Look alike (same day, same kind of news, similar wording) but are different stories.
NEAR_MISS_PAIRS: list[tuple[str, str]] = [
    (CL_ATLAS, TT_SPARROW),  # two model launches
    (REDDIT_ATLAS, REDDIT_SPARROW),  # two model launches, same subreddit
    (CL_QUILLON, TT_BRIGHTMOOR),  # two layoffs: 1,200 (18%) vs 340 (9%)
    (FR_QUILLON, TT_BRIGHTMOOR),
    (TT_KESTREL, CL_TIDEWELL),  # two funding rounds: $640M Series D vs $85M Series B
    (HC_KESTREL, HC_SOLVANE),  # same outlet and section, both AI-infrastructure money
    (LL_SMR, TT_ATLAS),  # long context in both
]

# Items the sources deliver that are outside the day's window (published before
# WINDOW_START_UTC): a day-window filter should drop them.
OUT_OF_WINDOW: list[str] = [CL_QUILLON_RUMOR, LL_LANTERN, LL_LISBON, MASTO_OLD, HN_QUILLON_RUMOR]

# Items in the window that carry no story of their own (a reply without
# content, a daily discussion thread, a repost of an old post) or that a
# collector filters out (below the Hacker News min_points of 10).
NOISE: list[str] = [MASTO_REPLY, REDDIT_DAILY_THREAD, BSKY_LISBON_REPOST, HN_ASK_LOW_POINTS]

_BSKY = "https://bsky.app/profile"
POSTS: dict[str, dict] = {
    BSKY_ATLAS: {"source": "Tensor Tribune on Bluesky", "url": f"{_BSKY}/tensortribune.example/post/3m6atlas2k4tt", "links": [TT_ATLAS]},
    BSKY_KESTREL: {"source": "Tensor Tribune on Bluesky", "url": f"{_BSKY}/tensortribune.example/post/3m6kestrl7q2p", "links": [TT_KESTREL]},
    BSKY_SMR_ROOT: {"source": "Priya Nair (Bluesky)", "url": f"{_BSKY}/priya.lumenlabs.example/post/3m6smrroot01a", "links": [LL_SMR]},
    BSKY_SMR_REPLY1: {"source": "Priya Nair (Bluesky)", "url": f"{_BSKY}/priya.lumenlabs.example/post/3m6smrrep02b", "links": []},
    BSKY_SMR_REPLY2: {"source": "Priya Nair (Bluesky)", "url": f"{_BSKY}/priya.lumenlabs.example/post/3m6smrrep03c", "links": []},
    BSKY_LISBON_REPOST: {"source": "Priya Nair (Bluesky)", "url": f"{_BSKY}/lumenlabs.example/post/3m3lisbon9x1h", "links": [LL_LISBON]},
    MASTO_ATLAS: {"source": "Rita Koval (Mastodon)", "url": "https://newsfedi.example/@rkoval/113512419036720145", "links": [CL_ATLAS]},
    MASTO_QUILLON: {"source": "Rita Koval (Mastodon)", "url": "https://newsfedi.example/@rkoval/113511140557203388", "links": [FR_QUILLON]},
    MASTO_REPLY: {"source": "Rita Koval (Mastodon)", "url": "https://newsfedi.example/@rkoval/113512907744518302", "links": []},
    MASTO_OLD: {"source": "Rita Koval (Mastodon)", "url": "https://newsfedi.example/@rkoval/113498002311870016", "links": []},
    REDDIT_ATLAS: {"source": "r/ModelWatch", "url": "https://www.reddit.com/r/ModelWatch/comments/1gx7k2a/meridian_releases_atlas3_1m_context_2m_input/", "links": [BH_ATLAS]},
    REDDIT_SPARROW: {"source": "r/ModelWatch", "url": "https://www.reddit.com/r/ModelWatch/comments/1gx9m4q/arclight_sparrow2_mini_3b_open_weights_apache20/", "links": [TT_SPARROW]},
    REDDIT_DAILY_THREAD: {"source": "r/ModelWatch", "url": "https://www.reddit.com/r/ModelWatch/comments/1gx2d0s/daily_discussion_thread_november_18_2026/", "links": []},
    HN_ATLAS: {"source": "Hacker News", "url": "https://news.ycombinator.com/item?id=45012345", "links": [CL_ATLAS]},
    HN_SMR: {"source": "Hacker News", "url": "https://news.ycombinator.com/item?id=45008810", "links": [LL_SMR]},
    HN_KESTREL: {"source": "Hacker News", "url": "https://news.ycombinator.com/item?id=45009534", "links": [TT_KESTREL]},
    HN_ASK_LOW_POINTS: {"source": "Hacker News", "url": "https://news.ycombinator.com/item?id=45016002", "links": []},
    HN_QUILLON_RUMOR: {"source": "Hacker News", "url": "https://news.ycombinator.com/item?id=44998120", "links": [CL_QUILLON_RUMOR]},
}


# Self-replies of a thread, and the thread's first post they fold into.
MERGED_INTO: dict[str, str] = {BSKY_SMR_REPLY1: BSKY_SMR_ROOT, BSKY_SMR_REPLY2: BSKY_SMR_ROOT}


def item_ref(item, base_url: str) -> str:
    """The ref of a collected item (anything with `kind`, `url` and `guid`).

    Articles are known by their URL path on the demo server (query string,
    such as utm_ tracking, dropped); posts by their guid.
    """
    url = getattr(item, "url", None) or ""
    if getattr(item, "kind", "article") == "article" and url.startswith(base_url.rstrip("/") + "/"):
        return urlsplit(url).path
    return item.guid


def is_post_ref(ref: str) -> bool:
    return not ref.startswith("/")


def story_index(ref: str) -> int | None:
    """The index in EXPECTED_STORIES of the group holding `ref`, if any."""
    for i, group in enumerate(EXPECTED_STORIES):
        if ref in group:
            return i
    return None
