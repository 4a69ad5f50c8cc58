"""item separations: an editor split an item off a story, and the cluster stage keeps it apart

After 0007: a database already at 0007 never runs a migration inserted before it. A new table
rebuilds none of the search index's tables, so their triggers stay (storage/search_schema.py).

Revision ID: 0010
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('item_separations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id')
    )
    op.create_index(op.f('ix_item_separations_day'), 'item_separations', ['day'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_item_separations_day'), table_name='item_separations')
    op.drop_table('item_separations')
