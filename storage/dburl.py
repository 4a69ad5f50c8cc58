"""Database URLs checked before anything connects, so a typo is one clear line, not a driver traceback.

newsdesk runs on SQLite and PostgreSQL. A plain `postgresql://` URL means
SQLAlchemy's default driver, psycopg2, which newsdesk does not install: it is
mapped to the installed psycopg 3 driver (`postgresql+psycopg://`), and so is
the common `postgres://` spelling.
"""
from __future__ import annotations

import importlib.util

__all__ = ["DatabaseURLError", "normalize_database_url", "describe_database_url"]

BACKENDS = ("sqlite", "postgresql")
# SQLAlchemy driver name -> the module it imports.
_DRIVER_MODULES = {"pysqlite": "sqlite3", "psycopg": "psycopg", "psycopg2": "psycopg2", "pg8000": "pg8000"}
_EXAMPLES = "sqlite:///PATH/newsdesk.db or postgresql://USER@HOST/DATABASE"


class DatabaseURLError(ValueError):
    """The database URL cannot be used; the message says why and what would work."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def describe_database_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return repr(url)


def normalize_database_url(url: str | None) -> str:
    """`url` ready for SQLAlchemy, or DatabaseURLError with a one-line reason.

    Only the scheme is ever rewritten (plain PostgreSQL to psycopg 3); the
    rest of the URL is returned exactly as given.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    raw = (url or "").strip()
    if not raw:
        raise DatabaseURLError(f"no database URL given; use {_EXAMPLES}")
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):
        raise DatabaseURLError(f"{raw[:100]!r} is not a database URL; use {_EXAMPLES}") from None
    scheme = raw.split("://", 1)[0]
    backend, _, driver = parsed.drivername.partition("+")
    backend = {"postgres": "postgresql"}.get(backend, backend)
    if backend not in BACKENDS:
        raise DatabaseURLError(f"unsupported database {backend!r} ({describe_database_url(raw)}): newsdesk runs on "
                               f"SQLite or PostgreSQL; use {_EXAMPLES}")
    if backend == "postgresql" and not driver:
        driver = next((d for d in ("psycopg", "psycopg2") if _installed(_DRIVER_MODULES[d])), "")
        if not driver:
            raise DatabaseURLError("PostgreSQL needs the psycopg driver: pip install 'newsdesk[postgres]'")
    module = _DRIVER_MODULES.get(driver)
    if driver and module is None:
        raise DatabaseURLError(f"unsupported {backend} driver {driver!r}; use "
                               + ("postgresql+psycopg://" if backend == "postgresql" else "sqlite:///"))
    if module is not None and not _installed(module):
        hint = "postgresql+psycopg:// (psycopg 3)" if backend == "postgresql" else "sqlite:///"
        raise DatabaseURLError(f"the {driver} driver is not installed; use {hint}")
    name = f"{backend}+{driver}" if driver else backend
    return raw if name == scheme else name + raw[len(scheme):]
