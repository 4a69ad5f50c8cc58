"""Thread pages of the static archive: one page per running story, and a list of them.

A thread page shows the published days of one running story, oldest first: the day (a link
to that day's digest), the headline as published and what changed. Only published stories
appear; a thread gets a page once it was published on at least two days. Rebuilt whole with
the rest of the archive, so pages of threads that no longer qualify are removed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from storage.threads import ThreadView, running_threads

TEMPLATES = Path(__file__).parent / "templates" / "archive"
INDEX = "threads.html"


def thread_file(thread_id: int) -> str:
    """A thread's page name, stable for as long as the thread exists."""
    return f"thread-{thread_id}.html"


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True))


def thread_html(view: ThreadView, feed_title: str) -> str:
    return _env().get_template("thread.html").render(t=view, title=feed_title)


def threads_index_html(views: list[ThreadView], feed_title: str) -> str:
    return _env().get_template("threads.html").render(threads=views, title=feed_title, thread_file=thread_file)


def write_thread_pages(session: Session, out_dir: Path, feed_title: str,
                       write: Callable[[Path, str], None]) -> list[Path]:
    """Write every running thread's page and the list; drop pages of threads that are gone."""
    views = running_threads(session, published_only=True, min_days=2)
    written = []
    for view in views:
        path = out_dir / thread_file(view.thread_id)
        write(path, thread_html(view, feed_title))
        written.append(path)
    keep = {p.name for p in written}
    for old in out_dir.glob("thread-*.html"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    index = out_dir / INDEX
    write(index, threads_index_html(views, feed_title))
    return written + [index]
