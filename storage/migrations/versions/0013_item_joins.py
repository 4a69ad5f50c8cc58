"""item joins: an editor merged a story into another, and the cluster stage keeps the items together

Appended after 0012 (a migration is never inserted before a released one). A new table rebuilds
none of the search index's tables, so their triggers stay (storage/search_schema.py).

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('item_joins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id')
    )
    op.create_index(op.f('ix_item_joins_day'), 'item_joins', ['day'], unique=False)
    op.create_index(op.f('ix_item_joins_group_id'), 'item_joins', ['group_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_item_joins_group_id'), table_name='item_joins')
    op.drop_index(op.f('ix_item_joins_day'), table_name='item_joins')
    op.drop_table('item_joins')
