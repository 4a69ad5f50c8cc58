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
    """The dialect's INSERT (with `on_conflict_do_*`) for `model`."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"bulk upserts need SQLite or PostgreSQL, not {name}")


def chunks(rows: Sequence[dict[str, Any]], columns: int) -> Iterator[Sequence[dict[str, Any]]]:
    """Slices of `rows` small enough for one statement's parameter limit."""
    size = max(1, MAX_PARAMS // max(1, columns))
    for start in range(0, len(rows), size):
        yield rows[start:start + size]
