"""drafting: failure kind and attempts, structured-output mode, omitted sources, approval overrides;
estimated token counts on LLM calls

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('drafts') as batch:
        batch.add_column(sa.Column('failure_kind', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('llm_mode', sa.String(length=30), nullable=True))
        batch.add_column(sa.Column('omitted_sources', sa.JSON(), nullable=False, server_default='[]'))
        batch.add_column(sa.Column('override', sa.JSON(), nullable=True))
    with op.batch_alter_table('llm_calls') as batch:
        batch.add_column(sa.Column('estimated', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('llm_calls') as batch:
        batch.drop_column('estimated')
    with op.batch_alter_table('drafts') as batch:
        batch.drop_column('override')
        batch.drop_column('omitted_sources')
        batch.drop_column('llm_mode')
        batch.drop_column('attempts')
        batch.drop_column('failure_kind')
