"""per-host politeness shared by every worker: request slots and the next allowed start per host

Placed before 0007 in the chain after 0007 had been released: databases already at 0007 never ran
it, and 0012 creates its tables there.

Revision ID: 0009
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('host_slots',
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('host', 'slot')
    )
    op.create_index('ix_host_slots_holder', 'host_slots', ['holder'])
    op.create_table('host_pace',
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('next_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('host')
    )


def downgrade() -> None:
    op.drop_table('host_pace')
    op.drop_index('ix_host_slots_holder', table_name='host_slots')
    op.drop_table('host_slots')
