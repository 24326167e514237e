"""keeper actions and leases; gateway participants, API keys, idempotency, evidence documents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scf_chain.db.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Address = scf_chain.db.types.Address(length=42)
Hex32 = scf_chain.db.types.Hex32(length=66)
Uint256 = scf_chain.db.types.Uint256()
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'keeper_actions',
        sa.Column('id', Id, primary_key=True),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.Column('keeper', Address, nullable=False),
        sa.Column('action', sa.String(32), nullable=False),
        sa.Column('slot', Uint256, nullable=True),
        sa.Column('token_ids', sa.JSON(), nullable=False),
        sa.Column('amount', Uint256, nullable=False),
        sa.Column('tx_hash', Hex32, nullable=True),
        sa.Column('detail', sa.String(500), nullable=True),
    )
    op.create_index('ix_keeper_actions_slot', 'keeper_actions', ['slot'])
    op.create_table(
        'keeper_leases',
        sa.Column('slot', Uint256, primary_key=True),
        sa.Column('holder', sa.String(64), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
    )
    op.create_table(
        'gateway_participants',
        sa.Column('name', sa.String(64), primary_key=True),
        sa.Column('address', Address, nullable=False, unique=True),
        sa.Column('roles', sa.Integer(), nullable=False),
        sa.Column('key_name', sa.String(64), nullable=False),
        sa.Column('display_name', sa.String(200), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
    )
    op.create_table(
        'api_keys',
        sa.Column('key_id', sa.String(32), primary_key=True),
        sa.Column('secret_hash', sa.String(64), nullable=False),
        sa.Column('participant', sa.String(64), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    )
    op.create_index('ix_api_keys_participant', 'api_keys', ['participant'])
    op.create_table(
        'idempotency_records',
        sa.Column('participant', sa.String(64), primary_key=True),
        sa.Column('key', sa.String(255), primary_key=True),
        sa.Column('request_hash', sa.String(64), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('body', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
    )
    op.create_table(
        'evidence_documents',
        sa.Column('doc_id', sa.String(64), primary_key=True),
        sa.Column('owner', sa.String(64), nullable=False),
        sa.Column('doc_type', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(128), nullable=False),
        sa.Column('doc_key', Hex32, nullable=False),
        sa.Column('fields_root', Hex32, nullable=False),
        sa.Column('doc_hash', Hex32, nullable=False),
        sa.Column('leaf', Hex32, nullable=False),
        sa.Column('batch_root', Hex32, nullable=True),
        sa.Column('proof', sa.JSON(), nullable=True),
        sa.Column('anchored_tx', Hex32, nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.UniqueConstraint('doc_key', name='uq_evidence_documents_doc_key'),
    )
    op.create_index('ix_evidence_documents_batch', 'evidence_documents', ['batch_root'])


def downgrade() -> None:
    op.drop_index('ix_evidence_documents_batch', table_name='evidence_documents')
    op.drop_table('evidence_documents')
    op.drop_table('idempotency_records')
    op.drop_index('ix_api_keys_participant', table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('gateway_participants')
    op.drop_table('keeper_leases')
    op.drop_index('ix_keeper_actions_slot', table_name='keeper_actions')
    op.drop_table('keeper_actions')
