"""search and links added by hand: full-text indexes (SQLite FTS5, PostgreSQL tsvector + GIN); who added an item

`items.added_by` / `items.added_note` name the editor who pasted a link, and why.

SQLite keeps one FTS5 table per indexed table, filled by triggers on every
insert, update and delete; PostgreSQL keeps a generated tsvector column with a
GIN index, which the database itself keeps in step. `storage.search.rebuild`
refills the FTS5 tables from the rows.

Revision ID: 0007
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

from storage.search_schema import PG_VECTOR as _PG_VECTOR, SQLITE_TEXT as _SQLITE_TEXT

revision = '0007'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('items', sa.Column('added_by', sa.String(length=200), nullable=True))
    op.add_column('items', sa.Column('added_note', sa.Text(), nullable=True))
    # Search goes from a matching item or article to its stories: without these, each match scanned
    # story_items / item_links whole (their unique keys lead with the other column).
    op.create_index('ix_story_items_item', 'story_items', ['item_id'])
    op.create_index('ix_item_links_article', 'item_links', ['article_id'])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table, (fts, cols, exprs) in _SQLITE_TEXT.items():
            op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({', '.join(cols)}, tokenize='porter unicode61')")
            new = ", ".join(e.format(r="NEW") for e in exprs)
            op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
                       f"INSERT INTO {fts}(rowid, {', '.join(cols)}) VALUES (NEW.id, {new}); END")
            # Only a change to an indexed column re-indexes the row (a draft's attempts or an item's
            # engagement change often and say nothing searchable).
            op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {', '.join(cols)} ON {table} BEGIN "
                       f"DELETE FROM {fts} WHERE rowid = OLD.id; "
                       f"INSERT INTO {fts}(rowid, {', '.join(cols)}) VALUES (NEW.id, {new}); END")
            op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
                       f"DELETE FROM {fts} WHERE rowid = OLD.id; END")
            rows = ", ".join(e.format(r=table) for e in exprs)
            op.execute(f"INSERT INTO {fts}(rowid, {', '.join(cols)}) SELECT {table}.id, {rows} FROM {table}")
    elif bind.dialect.name == "postgresql":
        for table, vector in _PG_VECTOR.items():
            op.execute(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED")
            op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin (search_vector)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table, (fts, _, _) in _SQLITE_TEXT.items():
            for suffix in ("ai", "au", "ad"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    elif bind.dialect.name == "postgresql":
        for table in _PG_VECTOR:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
    op.drop_index('ix_item_links_article', table_name='item_links')
    op.drop_index('ix_story_items_item', table_name='story_items')
    with op.batch_alter_table('items') as batch:
        batch.drop_column('added_note')
        batch.drop_column('added_by')
