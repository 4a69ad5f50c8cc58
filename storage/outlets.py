"""Which outlet a source belongs to: one outlet's feed and its social accounts are one outlet.

Coverage counts outlets, not sources: "Tensor Tribune" (its feed) and
"Tensor Tribune on Bluesky" (its account) reporting a story is one outlet
reporting it, twice. The outlet is the source's name without a trailing
network ("on Bluesky", "(Mastodon)"); a person's account stays their own.
"""
from __future__ import annotations

import re

NETWORKS = r"bluesky|bsky|mastodon|x|twitter|threads|linkedin|reddit|youtube"
_NETWORK_SUFFIX = re.compile(rf"\s*(?:\((?:{NETWORKS})\)|[-–—:]?\s*\bon\s+(?:{NETWORKS})|[-–—:]\s*(?:{NETWORKS}))\s*$",
                             re.IGNORECASE)


def outlet_name(source_name: str | None) -> str:
    """The outlet a source publishes for (its name without the network it posts on)."""
    name = (source_name or "").strip()
    stripped = _NETWORK_SUFFIX.sub("", name).strip()
    return stripped or name or "unknown"


def distinct_outlets(source_names: list[str]) -> list[str]:
    """Outlet names, each once (case-insensitively), in first-seen order."""
    seen: dict[str, str] = {}
    for name in source_names:
        outlet = outlet_name(name)
        seen.setdefault(outlet.casefold(), outlet)
    return list(seen.values())
