"""threads: a running story's days share a thread id

Revision ID: 0008
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thread_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_stories_thread_id'), ['thread_id'], unique=False)
        batch_op.create_foreign_key('fk_stories_thread_id', 'threads', ['thread_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_constraint('fk_stories_thread_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_stories_thread_id'))
        batch_op.drop_column('thread_id')
    op.drop_table('threads')
