"""Settings of the editors' desk, built once by `newsdesk.config` (or a test)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from review.delivery.settings import DeliverySettings

RegenerateHook = Callable[[int, "str | None", str], Awaitable[None]]
"""regenerate(story_id, instruction, actor): redraft one story (the lead wires it to the drafter)."""


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
    session_max_age_seconds: int = 12 * 60 * 60
    flag_failing_after: int = 3  # a source failing this many nights in a row is flagged
    default_style: str = "awesome-ai-daily"
    regenerate: RegenerateHook | None = None
    delivery: DeliverySettings | None = None  # newsletter and channels; None: sending is off

    def __post_init__(self) -> None:
        if not self.secret_key or len(self.secret_key) < 16:
            raise ValueError("the review app needs a secret key of at least 16 characters to sign sessions")
        self.publish_dir = Path(self.publish_dir)
