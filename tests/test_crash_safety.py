"""Crash safety and concurrency: a kill loses at most the pages in flight, a dead run does not stay
"running", one day cannot be run twice at once, and parallel collects on a fresh database work."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from flows.pipeline import Context, extract_stage
from newsdesk.config import load_settings
from storage.db import Database
from storage.models import Article, Run
from storage.runlock import DayBusy, DayRunLock, holder_id, mark_stale_runs
from storage.writes import ItemWrite, link_items_to_articles, upsert_items, upsert_sources
from tests.httpserver import Recorded, Route, TestServer

REPO = Path(__file__).resolve().parents[1]
DAY = "2026-11-23"
PAGES = 240
WINDOW = 20  # pages in flight at once (NEWSDESK_EXTRACT_BATCH)
KILL_AT = 5 * WINDOW + 1  # the stage is killed when the server receives this many page requests
# (just as a sixth window of pages starts downloading: saving pages by the batch lost the fifth one too)
EXTRACT_ONLY = (
    "import sys\n"
    "from newsdesk.config import load_settings\n"
    "from flows.pipeline import Context, extract_stage\n"
    "from storage.db import Database\n"
    "s = load_settings()\n"
    "extract_stage(Context(s, Database(s.database_url)), sys.argv[1])\n"
)


def _page(n: int) -> bytes:
    paras = "".join(
        f"<p>Paragraph {k} of article {n}: researchers describe how the model number {n} was trained, "
        f"evaluated on many benchmarks and released with weights and a long technical report.</p>"
        for k in range(6))
    return (f"<html><head><title>Article {n}</title></head><body><article><h1>Article {n}</h1>{paras}"
            f"</article></body></html>").encode()


def _env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "NEWSDESK_DATABASE_URL": db_url, "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
            "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback", **extra}


def _seed_articles(db: Database, server: TestServer) -> dict[str, int]:
    """One feed whose items point at PAGES article pages; returns url -> article id."""
    when = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    with db.session() as s:
        sid = upsert_sources(s, [{"name": "pages", "type": "rss", "url": server.url("/feed")}])["pages"]
        upsert_items(s, sid, [ItemWrite(kind="article", guid=f"g{n}", url=server.url(f"/a/{n}"), title=f"Article {n}",
                                        text="summary", content_hash=f"h{n}", published_at=when + timedelta(seconds=n))
                              for n in range(PAGES)])
        link_items_to_articles(s, sid)
        return dict(s.execute(select(Article.canonical_url, Article.id)).all())


def _saved(db: Database) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(Article.canonical_url).where(Article.status != "pending")))


@pytest.mark.slow
def test_a_kill_mid_extraction_loses_at_most_the_pages_in_flight_and_the_rerun_fetches_only_the_rest(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage: list[subprocess.Popen] = []
    asked: list[str] = []

    def page(n: int):
        """Answer page n; the KILL_AT-th page request SIGKILLs the stage before it is answered."""
        def answer(rec: Recorded) -> Route:
            with lock:
                asked.append(rec.path)
                if len(asked) == KILL_AT:
                    stage[0].send_signal(signal.SIGKILL)
            return Route(body=_page(n), headers={"Content-Type": "text/html"}, delay=0.03)
        return answer

    lock = threading.Lock()
    with TestServer() as server:
        for n in range(PAGES):
            server.routes[f"/a/{n}"] = page(n)
        server.routes["/robots.txt"] = Route(status=404)
        _seed_articles(db, server)
        stage.append(subprocess.Popen([sys.executable, "-c", EXTRACT_ONLY, DAY], cwd=REPO,
                                      env=_env(db.url, tmp_path, NEWSDESK_EXTRACT_BATCH=str(WINDOW)),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        proc = stage[0]
        try:
            code = proc.wait(timeout=120)
            assert code == -signal.SIGKILL, f"extraction ended before the kill: {proc.stderr.read().decode()[-2000:]}"
        finally:
            if proc.poll() is None:
                proc.kill()
        # Every page asked for was in flight or saved: the loss is at most the window. (Saving a batch
        # at once lost more: the batch being extracted and the next one being fetched.)
        saved = _saved(db)
        lost = set(asked) - {urlsplit(u).path for u in saved}
        assert 40 <= len(saved) < PAGES, "the kill came after the last page"
        assert len(lost) <= WINDOW, f"the kill lost {len(lost)} fetched pages, more than the {WINDOW} in flight"
        seen_before_rerun = len(server.requests)

        for key, value in _env(db.url, tmp_path).items():
            monkeypatch.setenv(key, value)
        stats = extract_stage(Context(load_settings(), db), DAY)
        refetched = {r.path for r in server.requests[seen_before_rerun:]} & {urlsplit(u).path for u in saved}
        assert not refetched, f"pages saved before the kill were fetched again: {sorted(refetched)[:5]}"
        assert stats["articles"] == PAGES - len(saved)
        assert len(_saved(db)) == PAGES
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Article).where(Article.status == "ok")) == PAGES


# ---------------------------------------------------------------- runs and day locks


def test_a_dead_runs_row_is_marked_interrupted_on_the_next_start(db: Database) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = holder_id().rpartition(":")[0]
    now = datetime.now(timezone.utc)
    with db.session() as s:
        s.add(Run(day=DAY, status="running", holder=f"{host}:{dead.stdout.strip()}", heartbeat_at=now))  # process gone
        s.add(Run(day="2026-11-20", status="running", holder="elsewhere:1", heartbeat_at=now - timedelta(hours=1)))
        s.add(Run(day="2026-11-21", status="running", holder="elsewhere:2", heartbeat_at=now))  # alive elsewhere
    marked = mark_stale_runs(db)
    with db.session() as s:
        status = dict(s.execute(select(Run.day, Run.status)).all())
    assert len(marked) == 2
    assert status == {DAY: "interrupted", "2026-11-20": "interrupted", "2026-11-21": "running"}


def test_a_day_is_held_by_one_run_and_a_second_says_who_holds_it(db: Database) -> None:
    first = DayRunLock(db, DAY).acquire()
    first.attach(41)
    try:
        with pytest.raises(DayBusy, match=r"2026-11-23 is being run by run #41 \(.+:\d+, since"):
            DayRunLock(db, DAY).acquire()
        DayRunLock(db, "2026-11-24").acquire().release()  # other days are free
        waited = time.monotonic()
        with pytest.raises(DayBusy):
            DayRunLock(db, DAY, wait=1.0).acquire()
        assert time.monotonic() - waited >= 0.9
    finally:
        first.release()
    DayRunLock(db, DAY).acquire().release()  # released: free again


HOLD_DAY = (
    "import sys, time\n"
    "from storage.db import Database\n"
    "from storage.runlock import DayRunLock\n"
    "lock = DayRunLock(Database(sys.argv[1]), sys.argv[2]).acquire()\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)


def test_a_killed_holder_frees_its_day(db: Database) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_DAY, db.url, DAY], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(DayBusy):
            DayRunLock(db, DAY).acquire()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    DayRunLock(db, DAY, wait=5).acquire().release()


def test_a_second_run_of_a_held_day_stops_before_starting_and_names_the_holder(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from flows.nightly import run_night
    from newsdesk.cli import app

    env = _env(db.url, tmp_path)
    held = DayRunLock(db, DAY).acquire()
    try:
        result = CliRunner().invoke(app, ["run", "--day", DAY], env=env)
        assert result.exit_code == 1
        assert "2026-11-23 is being run by another run (" in result.output and "Traceback" not in result.output
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        with pytest.raises(DayBusy):
            run_night(load_settings(), day=DAY)
    finally:
        held.release()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0, "a refused run left a row"


# ---------------------------------------------------------------- parallel collects


@pytest.mark.slow
def test_four_parallel_collects_on_a_fresh_database_all_succeed_without_duplicates(tmp_path: Path, db_url: str) -> None:
    import yaml

    from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
    from storage.models import Item, Source

    with serve_sample_day() as base_url:
        sources = demo_sources(base_url)
        path = tmp_path / "sources.yaml"
        path.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
        env = _env(db_url, tmp_path, NEWSDESK_SOURCES=str(path))
        procs = [subprocess.Popen([sys.executable, "-m", "newsdesk.cli", "collect", "--day", SAMPLE_DAY], cwd=REPO,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for code, stderr in outcomes:
        assert code == 0, stderr[-3000:]
    db = Database(db_url)
    try:
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Source)) == len(sources)
            items = s.scalar(select(func.count()).select_from(Item))
            distinct = s.scalar(select(func.count()).select_from(select(Item.source_id, Item.guid).distinct().subquery()))
            assert items == distinct > 0
    finally:
        db.dispose()
