"""participants who sign themselves: gateway_participants.custody and prepared transactions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scf_chain.db.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Address = scf_chain.db.types.Address(length=42)
Hex32 = scf_chain.db.types.Hex32(length=66)


def upgrade() -> None:
    op.add_column('gateway_participants', sa.Column('custody', sa.String(16), nullable=False,
                                                    server_default='custodial'))
    op.create_table(
        'custody_prepared',
        sa.Column('id', sa.String(40), primary_key=True),
        sa.Column('request_id', sa.String(40), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('participant', sa.String(64), nullable=False),
        sa.Column('path', sa.String(500), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('sender', Address, nullable=False),
        sa.Column('tx', sa.JSON(), nullable=False),
        sa.Column('call_hash', Hex32, nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.Column('tx_hash', Hex32, nullable=True),
        sa.UniqueConstraint('request_id', 'step', name='uq_custody_prepared_request_step'),
    )
    op.create_index('ix_custody_prepared_expires', 'custody_prepared', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_custody_prepared_expires', table_name='custody_prepared')
    op.drop_table('custody_prepared')
    with op.batch_alter_table('gateway_participants') as batch:
        batch.drop_column('custody')
