"""The migration chain: released revisions keep their order, and databases at an old head catch up."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from storage.db import Database, _alembic_config, table_names

# The chain as it was released (stop by stop). A new migration is appended after the last one:
# a database already at a released head never runs one inserted before it (0009 was, see 0012).
RELEASED = ["0001", "0002", "0005", "0003", "0008", "0004", "0009", "0007", "0010", "0011", "0012", "0013"]


def _chain(tmp_path: Path) -> list[str]:
    script = ScriptDirectory.from_config(_alembic_config(create_engine(f"sqlite:///{tmp_path / 'x.db'}")))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_released_revisions_keep_their_order_and_new_ones_come_last(tmp_path: Path) -> None:
    chain = _chain(tmp_path)
    assert chain[:len(RELEASED)] == RELEASED, "a migration was inserted before a released one: append it instead"


def test_a_database_left_at_0007_without_the_host_tables_gets_them(db: Database) -> None:
    cfg = _alembic_config(db.engine)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    with db.engine.begin() as conn:  # as a database created when 0007 was the head and 0009 did not exist
        conn.execute(text("DROP TABLE host_pace"))
        conn.execute(text("DROP TABLE host_slots"))
    db.migrate()
    db.check_ready()
    assert {"host_slots", "host_pace", "item_separations", "item_joins"} <= set(table_names(db.engine))
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO host_slots (host, slot, holder, expires_at) VALUES ('x.test', 0, 'w', 1.0)"))
        assert conn.execute(text("SELECT count(*) FROM host_slots")).scalar_one() == 1
    db.migrate()  # idempotent


def test_the_repair_leaves_a_complete_database_as_it_is(db: Database) -> None:
    cfg = _alembic_config(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO host_pace (host, next_at) VALUES ('x.test', 5.0)"))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0011")
        command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT next_at FROM host_pace")).scalar_one() == 5.0
