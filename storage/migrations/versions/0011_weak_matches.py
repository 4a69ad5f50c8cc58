"""story_items.weak: the item joined its story only on a weak match (as a straggler)

After 0010. story_items has no search triggers, so rebuilding it on SQLite drops none
(storage/search_schema.py).

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('story_items', schema=None) as batch:
        batch.add_column(sa.Column('weak', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('story_items', schema=None) as batch:
        batch.drop_column('weak')
