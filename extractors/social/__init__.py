"""Post collectors, one module per network.

Each module `extractors.social.<type>` has `async collect(spec, fetcher, *, since=None)
-> SourceResult` (never raises) and a pure `parse_<type>(payload, spec) -> (items,
warnings)` so that parsing is tested apart from I/O.
"""

NETWORKS: tuple[str, ...] = ("bluesky", "mastodon", "reddit", "hackernews", "x")
