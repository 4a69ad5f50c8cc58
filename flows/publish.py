"""The publish flow: render a day's approved stories and write the static archive and feeds."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from newsdesk.config import load_settings, parse_day
from storage.db import Database


@flow(name="publish", log_prints=True)
def publish(day: str, style: str | None = None, out_dir: str | None = None, note: str | None = None, editor: str = "newsdesk") -> dict[str, Any]:
    """Publish `day` (only approved stories; publishing again records a correction)."""
    from review.publishing import publish_day

    settings = load_settings()
    day = parse_day(day).isoformat()
    db = Database(settings.database_url)
    db.check_ready()
    try:
        result = publish_day(db, day, editor, Path(out_dir) if out_dir else settings.publish_dir, style=style, note=note,
                             site_url=settings.site_url, webhook_url=settings.webhook_url)
    finally:
        db.dispose()
    create_markdown_artifact(key=f"published-digest-{day}", markdown=result.markdown, description=f"Published digest {day} (revision {result.revision})")
    get_run_logger().info("published %s revision %s: %s", day, result.revision, ", ".join(str(f) for f in result.files))
    return {"day": day, "revision": result.revision, "files": [str(f) for f in result.files]}
