"""transaction journal of idempotent requests; idempotency records get an owner and an expiry

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scf_chain.db.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Address = scf_chain.db.types.Address(length=42)
Hex32 = scf_chain.db.types.Hex32(length=66)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# records written before expiry existed are kept for the default time from their creation
DEFAULT_TTL_S = 86_400.0


def upgrade() -> None:
    op.add_column('idempotency_records', sa.Column('owner', sa.String(64), nullable=True))
    op.add_column('idempotency_records', sa.Column('expires_at', sa.Float(), nullable=True))
    records = sa.table('idempotency_records', sa.column('created_at', sa.Float()),
                       sa.column('expires_at', sa.Float()))
    op.execute(records.update().values(expires_at=records.c.created_at + DEFAULT_TTL_S))
    op.create_index('ix_idempotency_records_expires', 'idempotency_records', ['expires_at'])
    op.create_table(
        'tx_journal',
        sa.Column('id', Id, primary_key=True),
        sa.Column('participant', sa.String(64), nullable=False),
        sa.Column('key', sa.String(255), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('sender', Address, nullable=False),
        sa.Column('nonce', sa.BigInteger(), nullable=False),
        sa.Column('tx_hash', Hex32, nullable=False),
        sa.Column('call_hash', Hex32, nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.UniqueConstraint('participant', 'key', 'seq', name='uq_tx_journal_request_seq'),
    )
    op.create_index('ix_tx_journal_sender_nonce', 'tx_journal', ['sender', 'nonce'])


def downgrade() -> None:
    op.drop_index('ix_tx_journal_sender_nonce', table_name='tx_journal')
    op.drop_table('tx_journal')
    op.drop_index('ix_idempotency_records_expires', table_name='idempotency_records')
    with op.batch_alter_table('idempotency_records') as batch:
        batch.drop_column('expires_at')
        batch.drop_column('owner')
