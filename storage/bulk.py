"""Set-based upserts on SQLite and PostgreSQL: one statement per chunk of rows, conflicts left to the database.

Per-row ORM work (load, compare, flush one object at a time) cost seconds per 10k items; these
helpers send many rows as one statement and let the database resolve conflicts, which also
makes concurrent writers (parallel collects, several workers) safe without retry loops.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import JSON, ColumnElement, Text, any_, bindparam, cast, func, select
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


def insert_rows(session: Session, model, rows: Sequence[dict[str, Any]], *,
                on_conflict: Callable[[Any], Any] = lambda stmt: stmt, returning: Sequence[Any] = ()):
    """INSERT `rows` (dicts with the same keys) into `model`'s table; returns the RETURNING rows.

    `on_conflict(stmt)` adds the `on_conflict_do_*` clause (it may use `stmt.excluded`).
    On SQLite the rows go as one multi-row INSERT per page (`execute_rows`). On PostgreSQL they go
    as one array per column, `INSERT ... SELECT * FROM unnest(...)`: a statement of a few
    parameters whatever the row count, where a multi-row VALUES list of 1,000 rows x 15 columns
    cost the driver ~0.1 s of CPU per page just to rewrite its placeholders (bench/collect_stage:
    10,000 items took 5 s to store on PostgreSQL, a third of that in the driver).
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        stmt = on_conflict(insert_for(session, model))
        result = execute_rows(session, stmt.returning(*returning) if returning else stmt, rows)
    else:
        table = model.__table__
        names = list(rows[0])
        arrays = {f"u_{c}": [json.dumps(r[c]) for r in rows] if _is_json(table.c[c]) else [r[c] for r in rows]
                  for c in names}
        stmt = on_conflict(postgresql.insert(table).from_select(names, _unnested(table, names)))
        result = session.connection().execute(stmt.returning(*returning) if returning else stmt, arrays)
    return result.all() if returning else []


def _is_json(column) -> bool:
    return isinstance(column.type, JSON)


def _unnested(table, names: list[str]):
    """`SELECT ... FROM unnest(:u_c1, ..., :u_cn) AS u(c1, ..., cn)`; JSON goes as text (json.dumps, as
    SQLAlchemy's JSON type stores it) and is cast back, since an array of JSON values is ambiguous."""
    params = [bindparam(f"u_{c}", type_=postgresql.ARRAY(Text() if _is_json(table.c[c]) else table.c[c].type))
              for c in names]
    u = func.unnest(*params).table_valued(*names, name="u").render_derived()
    return select(*[cast(u.c[c], table.c[c].type) if _is_json(table.c[c]) else u.c[c] for c in names])


def in_values(session: Session, column, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one parameter instead of one per value."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))


def chunks(rows: Sequence[Any], columns: int) -> Iterator[Sequence[Any]]:
    """Slices of `rows` small enough for one statement's parameter limit."""
    size = max(1, MAX_PARAMS // max(1, columns))
    for start in range(0, len(rows), size):
        yield rows[start:start + size]
