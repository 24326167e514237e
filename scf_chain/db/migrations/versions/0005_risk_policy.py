"""risk gates: the operator's policy, one row per version (history kept)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'risk_policy_versions',
        sa.Column('id', Id, primary_key=True, autoincrement=True),
        sa.Column('policy', sa.JSON(), nullable=False),
        sa.Column('changed_by', sa.String(length=64), nullable=False),
        sa.Column('changed_at', sa.BigInteger(), nullable=False),
        sa.Column('reason', sa.String(length=1000), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('risk_policy_versions')
