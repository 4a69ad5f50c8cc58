"""Settings of the editors' desk, built once by `newsdesk.config` (or a test)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from review.delivery.settings import DeliverySettings

RegenerateHook = Callable[[int, "str | None", str], Awaitable[None]]
"""regenerate(story_id, instruction, actor): redraft one story (newsdesk.webapp wires it to the drafter)."""

AddLinkHook = Callable[[str, "str | None", "str | None", bool, str], Awaitable["tuple[int, str]"]]
"""add_link(url, day, note, draft, actor) -> (story id, one-line outcome): fetch and place a link an editor pasted
(newsdesk.webapp wires it to flows.add_link, which fetches through the collectors' guard). Raises with a one-line reason."""


@dataclass
class ReviewSettings:
    database_url: str
    secret_key: str
    publish_dir: Path | str = "out"
    site_url: str | None = None
    webhook_url: str | None = None  # Slack-compatible incoming webhook
    cookie_secure: bool | None = None  # None: Secure exactly when the request came over https
    login_max_failures: int = 5  # per name + client address ...
    login_window_seconds: int = 15 * 60  # ... within this window, then 429
    login_max_per_address: int = 20  # attempts from one address, whatever the names, in the same window
    login_max_global: int = 100  # attempts over the whole desk ...
    login_global_window_seconds: int = 60  # ... per minute
    login_hash_slots: int = 2  # password hashes at once (argon2id takes 64 MiB each)
    login_max_waiting: int = 32  # sign-ins queued for a slot; more get 503 at once
    trusted_proxies: tuple[str, ...] = ()  # addresses/ranges whose X-Forwarded-For is believed; none by default
    session_max_age_seconds: int = 12 * 60 * 60
    flag_failing_after: int = 3  # a source failing this many nights in a row is flagged
    default_style: str = "awesome-ai-daily"
    regenerate: RegenerateHook | None = None
    draft: RegenerateHook | None = None  # "Draft this" for a story past the cap (extractive without an LLM)
    add_link: AddLinkHook | None = None
    delivery: DeliverySettings | None = None  # newsletter and channels; None: sending is off

    def __post_init__(self) -> None:
        if not self.secret_key or len(self.secret_key) < 16:
            raise ValueError("the review app needs a secret key of at least 16 characters to sign sessions")
        self.publish_dir = Path(self.publish_dir)
