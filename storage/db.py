"""Engines, sessions and migrations.

SQLite is the embedded default (a file under the data directory); any
SQLAlchemy URL, e.g. PostgreSQL, works through `NEWSDESK_DATABASE_URL`.
The schema is owned by Alembic: `migrate()` brings any database up to date.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.dburl import describe_database_url, normalize_database_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseNotReady(RuntimeError):
    """The database is missing or behind the code's schema: `newsdesk init` fixes it."""


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout for concurrent stages.

    The URL is checked first (`storage.dburl`): a bad one raises DatabaseURLError, one line.
    """
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme not in ("sqlite", "sqlite+pysqlite"):
        return None
    path = rest.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _reason(exc: BaseException) -> str:
    """The driver's own first line (e.g. "file is not a database"), without SQLAlchemy's wrapping."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    return text[:300] or type(orig).__name__


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest revision (idempotent)."""
    path = sqlite_path(str(engine.url))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    cfg = _alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except (OperationalError, SQLAlchemyDatabaseError) as exc:  # unreachable, no such database, not a database file
        raise DatabaseNotReady(f"cannot open the database {describe_database_url(str(engine.url))}: {_reason(exc)}") from exc


def check_ready(engine: Engine) -> None:
    """Raise DatabaseNotReady unless the database exists and is at the newest revision."""
    path = sqlite_path(str(engine.url))
    if path is not None and not path.exists():
        raise DatabaseNotReady(f"no database at {path}: run `newsdesk init` first")
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:  # connection refused, no such database, not a database file...
        raise DatabaseNotReady(f"cannot open the database {describe_database_url(str(engine.url))}: {_reason(exc)}") from exc
    if current != head:
        raise DatabaseNotReady(
            f"database schema is at {current or 'nothing'}, code expects {head}: run `newsdesk init`"
        )


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


class Database:
    """An engine plus a session factory; the one handle passed down to every stage."""

    def __init__(self, url: str):
        self.url = normalize_database_url(url)  # DatabaseURLError (one line) for a URL that cannot work
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def migrate(self) -> None:
        migrate(self.engine)

    def check_ready(self) -> None:
        check_ready(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
