"""Post collectors, one module per network.

Each module `extractors.social.<type>` has `async collect(spec, fetcher, *, since=None)
-> SourceResult` (never raises) and a pure `parse_<type>(payload, spec) -> (items,
warnings)` so that parsing is tested apart from I/O.

Engagement uses the same keys on every network so that ranking can compare
them: likes, reposts, replies, quotes (Bluesky, Mastodon, X), score and
comments (Reddit), points and comments (Hacker News).
"""

NETWORKS: tuple[str, ...] = ("bluesky", "mastodon", "reddit", "hackernews", "x")
