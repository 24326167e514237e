"""account nonces shared by gateway processes on one store

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scf_chain.db.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Address = scf_chain.db.types.Address(length=42)


def upgrade() -> None:
    op.create_table(
        'account_nonces',
        sa.Column('account', Address, primary_key=True),
        sa.Column('next_nonce', sa.BigInteger(), nullable=True),
        sa.Column('updated_at', sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('account_nonces')
