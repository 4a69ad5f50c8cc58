"""The send flow: email a published day to its subscribers and post it to chat/social channels.

Safe to run again at any time (a retry, a rerun after a crash, a second
trigger): every send is keyed on (revision, target) in the database, so it
sends only what was not sent yet. A correction goes to those who already had
the day only with `notify`.
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from newsdesk.config import load_settings, parse_day
from storage.db import Database


@flow(name="send", log_prints=True)
def send(day: str, email: bool = True, channels: list[str] | None = None, notify: bool = False,
         editor: str = "newsdesk") -> dict[str, Any]:
    """Send the latest published revision of `day` (email and/or channels: discord, telegram, mastodon, bluesky, all)."""
    from review.delivery.send import send_revision_sync

    settings = load_settings()
    day = parse_day(day).isoformat()
    db = Database(settings.database_url)
    db.check_ready()
    try:
        report = send_revision_sync(db, settings.delivery, day, email=email, channels=channels or [], notify=notify, actor=editor)
    finally:
        db.dispose()
    logger = get_run_logger()
    for line in report.lines():
        logger.info(line)
    rows = [{"target": "email", "outcome": ", ".join(f"{n} {k}" for k, n in report.email.items()) or "-"}] if email else []
    rows += [{"target": ch, "outcome": status} for ch, status in report.channels.items()]
    create_table_artifact(key=f"sent-digest-{day}", table=rows or [{"target": "-", "outcome": "nothing to send"}],
                          description=f"Sends of {day} revision {report.revision}")
    if report.stopped:
        raise RuntimeError(f"stopped: {report.stopped}; run again to send the rest")
    return {"day": day, "revision": report.revision, "email": report.email, "channels": report.channels,
            "errors": report.errors, "notes": report.notes}
