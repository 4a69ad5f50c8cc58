"""Set-based upserts on SQLite and PostgreSQL: multi-row `INSERT ... ON CONFLICT`, one round trip per chunk.

Per-row ORM work (load, compare, flush one object at a time) cost seconds per 10k items; these
helpers send a chunk of rows as one statement and let the database resolve conflicts, which also
makes concurrent writers (parallel collects, several workers) safe without retry loops.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

MAX_PARAMS = 30000  # under SQLite's 32,766 bound variables and PostgreSQL's 65,535 parameters


def insert_for(session: Session, model):
    """The dialect's Core INSERT (with `on_conflict_do_*`) for `model`'s table.

    Core, not ORM: executed with a list of rows (`execute_rows`), SQLAlchemy's "insertmanyvalues"
    sends one multi-row INSERT per page of rows from one cached compiled statement. Building
    `.values([...])` instead recompiles per call (~40 ms for 20 rows) and the ORM path adds
    per-row attribute work.
    """
    table = model.__table__
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"bulk upserts need SQLite or PostgreSQL, not {name}")


def execute_rows(session: Session, stmt, rows: Sequence[dict[str, Any]]):
    """Run a Core INSERT for many rows in the session's transaction (one round trip per page)."""
    return session.connection().execute(stmt, list(rows))


def chunks(rows: Sequence[dict[str, Any]], columns: int) -> Iterator[Sequence[dict[str, Any]]]:
    """Slices of `rows` small enough for one statement's parameter limit."""
    size = max(1, MAX_PARAMS // max(1, columns))
    for start in range(0, len(rows), size):
        yield rows[start:start + size]
