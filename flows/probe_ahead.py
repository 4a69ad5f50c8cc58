"""Probe the LLM endpoint in the background, before the draft stage needs what it can do.

A probe is a handful of sequential round trips to the LLM server: seconds of waiting against a
slow or local server, paid on the first night (or after a mode stops working). The night starts
it beside the work that comes first (`newsdesk run` starting Prefect's server, then collect,
extract and cluster) and the draft stage waits for it, finding the capabilities stored.
One probe per (database, endpoint) at a time in this process: whoever starts second joins it.
"""
from __future__ import annotations

import threading

from newsdesk.config import Settings

_running: dict[tuple[str, str, str], threading.Thread] = {}
_lock = threading.Lock()


def _key(settings: Settings) -> tuple[str, str, str]:
    cfg = settings.llm
    return settings.database_url, cfg.base_url or "", cfg.model


def start(settings: Settings, day: str) -> threading.Thread | None:
    """Start probing when drafting would have to (an LLM whose capabilities are not stored), or join
    a probe of the same endpoint already running; None when there is nothing to wait for."""
    from flows.draft_stage import needs_probe, probe_endpoint
    from flows.pipeline import Context
    from storage.db import Database

    if not settings.llm.configured or settings.llm.mode:
        return None
    with _lock:
        running = _running.get(_key(settings))
        if running is not None and running.is_alive():
            return running
        db = Database(settings.database_url)
        ctx = Context(settings=settings, db=db)
        try:
            if not needs_probe(ctx):
                db.dispose()
                return None
        except BaseException:
            db.dispose()
            raise

        def probe() -> None:
            try:
                probe_endpoint(ctx, day)
            finally:
                db.dispose()

        thread = threading.Thread(target=probe, name="llm-probe", daemon=True)
        _running[_key(settings)] = thread
        thread.start()
        return thread
