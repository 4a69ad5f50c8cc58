"""Builds the editors' web app from settings, wiring "regenerate" to the drafter and "add link" to the fetcher."""
from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from newsdesk.config import Settings


def secret_key(settings: Settings) -> str:
    """NEWSDESK_SECRET_KEY, or one generated once and kept in the data directory."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def build_app(settings: Settings):
    from flows import pipeline
    from review.app import create_app
    from review.settings import ReviewSettings
    from storage.db import Database

    db = Database(settings.database_url)
    db.check_ready()

    async def regenerate(story_id: int, instruction: str | None, actor: str) -> None:
        await asyncio.to_thread(pipeline.regenerate_story, pipeline.Context(settings, db), story_id,
                                instruction=instruction, actor=actor)

    async def add_link(url: str, day: str | None, note: str | None, draft: bool, actor: str) -> tuple[int, str]:
        from flows import add_link as adding

        result = await asyncio.to_thread(adding.add_link, pipeline.Context(settings, db), url, actor=actor,
                                         day=day, note=note, draft=draft)
        return result.story_id, "; ".join([adding.describe(result), *result.notes])

    return create_app(ReviewSettings(
        database_url=settings.database_url,
        secret_key=secret_key(settings),
        publish_dir=settings.publish_dir,
        site_url=settings.site_url,
        webhook_url=settings.webhook_url,
        trusted_proxies=settings.trusted_proxies,
        regenerate=regenerate if settings.llm.configured else None,
        draft=regenerate,
        add_link=add_link,
        delivery=settings.delivery,
    ))
