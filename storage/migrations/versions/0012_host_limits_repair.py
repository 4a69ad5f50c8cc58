"""repair: the per-host limit tables for databases that were already at 0007 when 0009 came

0009 was placed before 0007 in the chain after 0007 had been released, so a database created at
0007 was "at head" and never ran it: its Dask nights (which share per-host limits through the
database) found no `host_slots`. This creates the tables where they are missing; a database that
ran 0009 is unchanged. From 0010 on, a migration is only ever appended to the chain.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if 'host_slots' not in tables:
        op.create_table('host_slots',
        sa.Column('host', sa.String(length=300), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=False),
        sa.Column('holder', sa.String(length=64), nullable=True),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('host', 'slot')
        )
        op.create_index('ix_host_slots_holder', 'host_slots', ['holder'])
    if 'host_pace' not in tables:
        op.create_table('host_pace',
        sa.Column('host', sa.String(length=300), nullable=False),
        sa.Column('next_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('host')
        )


def downgrade() -> None:
    """Nothing: the tables belong to 0009, which drops them when stepped down past."""
