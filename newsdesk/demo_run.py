"""`newsdesk demo`: a whole night over the bundled sample day, offline.

The sample day is served by a real HTTP server on 127.0.0.1; the demo keeps
its own data directory (so it never mixes with real data) and ends by
printing the review queue and where everything is.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shlex
import socket
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml
from rich.console import Console

from newsdesk.config import ConfigError, Settings, load_settings


def demo_data_dir(settings: Settings) -> Path:
    explicit = os.environ.get("NEWSDESK_DEMO_DIR")
    return Path(explicit) if explicit else settings.data_dir / "demo"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _sample_day_server(serve: Callable[..., Any], port: int) -> Iterator[str]:
    """The sample day on `port`; a busy port is one line naming a free one (the demo's URLs name the port,
    so it is never switched silently: a rerun on another port would see other URLs)."""
    with contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(serve(port=port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise ConfigError(f"cannot serve the sample day on 127.0.0.1:{port}: {exc.strerror or exc}") from None
            raise ConfigError(f"port {port} is in use; run `newsdesk demo --port {free_port()}` "
                              "(and keep that port for later runs)") from None
        yield base_url


def run_demo(settings: Settings, *, port: int, style: str | None, console: Console,
             run: Callable[..., dict[str, Any]], show: Callable[[dict[str, Any]], None]) -> None:
    from newsdesk import cli
    from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
    from storage import desk
    from storage.db import Database

    data_dir = demo_data_dir(settings)
    data_dir.mkdir(parents=True, exist_ok=True)
    with _sample_day_server(serve_sample_day, port) as base_url:
        sources_file = data_dir / "sources.yaml"
        sources_file.write_text(yaml.safe_dump({"sources": demo_sources(base_url)}, sort_keys=False), encoding="utf-8")
        os.environ.update({
            "NEWSDESK_DATA_DIR": str(data_dir),
            "NEWSDESK_SOURCES": str(sources_file),
            "NEWSDESK_ALLOW_PRIVATE_HOSTS": "loopback",
        })
        os.environ.pop("NEWSDESK_DATABASE_URL", None)
        demo_settings = load_settings()
        cli.state.settings = demo_settings
        db = Database(demo_settings.database_url)
        db.migrate()
        db.dispose()
        console.print(f"[bold]newsdesk demo[/bold]: sample day {SAMPLE_DAY} served at {base_url}", highlight=False)
        stats = run(SAMPLE_DAY, "collect", False, None, None, style)
    show(stats)
    db = Database(demo_settings.database_url)
    with db.session() as s:
        rows = desk.list_stories(s, day=SAMPLE_DAY)
        summary = desk.night_summary(s, SAMPLE_DAY, demo_settings.flag_after)
    db.dispose()
    console.print("")
    cli._print_rows(rows, summary)
    console.print(f"""
Demo data:   {data_dir}
  database   {demo_settings.database_url}
  sources    {sources_file}""", highlight=False)
    for line in next_steps(data_dir, sources_file, rows[0].id if rows else None, drafted_views=demo_settings.llm.configured):
        console.print(line, highlight=False, soft_wrap=True)  # never broken mid-command, however narrow


def next_steps(data_dir: Path, sources_file: Path, story_id: int | None, *, drafted_views: bool) -> list[str]:
    """Commands that work as printed: the demo's own data directory AND sources file (the repository's
    sources.yaml names other sources and would fetch the real internet), one command a line."""
    from newsdesk.demo import SAMPLE_DAY

    sid = story_id if story_id is not None else "ID"
    lines = ["Next steps: the demo keeps its own data and sources; set both first:",
             f"  export NEWSDESK_DATA_DIR={shlex.quote(str(data_dir))}",
             f"  export NEWSDESK_SOURCES={shlex.quote(str(sources_file))}",
             f"  newsdesk review show {sid}"]
    approve = [f"  newsdesk review approve {sid}", f"  newsdesk publish --day {SAMPLE_DAY}"]
    if drafted_views:
        lines += approve
    lines += ["  newsdesk users add YOURNAME --role admin", "  newsdesk serve"]
    if not drafted_views:
        from newsdesk.cli import review_app

        where = "in the desk" + (" (or with `newsdesk review edit`)"
                                 if any(c.name == "edit" for c in review_app.registered_commands) else "")
        lines += [f"With no LLM the views are left to editors: write a story's view {where},",
                  "then approve and publish it there or here:", *approve]
    return lines
