"""indexed store: raw events, cursor, read models

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scf_chain.db.types

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evidence_revoked_leaves',
    sa.Column('root', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('leaf', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('revoked_by', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('reason', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('tx_hash', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.PrimaryKeyConstraint('root', 'leaf')
    )
    op.create_table('evidence_roots',
    sa.Column('root', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('anchorer', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('doc_type', sa.Integer(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('manifest_hash', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('anchored_block', sa.BigInteger(), nullable=False),
    sa.Column('anchored_tx', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('anchored_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('revoked_by', scf_chain.db.types.Address(length=42), nullable=True),
    sa.Column('revoked_reason', scf_chain.db.types.Hex32(length=66), nullable=True),
    sa.Column('revoked_tx', scf_chain.db.types.Hex32(length=66), nullable=True),
    sa.PrimaryKeyConstraint('root')
    )
    op.create_table('fund_flows',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payer', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('payee', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('amount', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('token', scf_chain.db.types.Address(length=42), nullable=True),
    sa.Column('slot', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=True),
    sa.Column('token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=True),
    sa.Column('offer_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=True),
    sa.Column('registration_ref', scf_chain.db.types.Hex32(length=66), nullable=True),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_time', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tx_hash', 'log_index', name='uq_fund_flows_tx_log')
    )
    with op.batch_alter_table('fund_flows', schema=None) as batch_op:
        batch_op.create_index('ix_fund_flows_payee', ['payee', 'block_time'], unique=False)
        batch_op.create_index('ix_fund_flows_payer', ['payer', 'block_time'], unique=False)
        batch_op.create_index('ix_fund_flows_slot', ['slot'], unique=False)

    op.create_table('holdings',
    sa.Column('address', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('slot', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('value', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('token_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('address', 'slot')
    )
    op.create_table('indexed_blocks',
    sa.Column('number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('number')
    )
    op.create_table('indexer_cursor',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('last_block', sa.BigInteger(), nullable=False),
    sa.Column('last_block_hash', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('lineage_edges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slot', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('from_token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('to_token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('value', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tx_hash', 'log_index', name='uq_lineage_tx_log')
    )
    with op.batch_alter_table('lineage_edges', schema=None) as batch_op:
        batch_op.create_index('ix_lineage_from', ['from_token_id'], unique=False)
        batch_op.create_index('ix_lineage_slot', ['slot'], unique=False)
        batch_op.create_index('ix_lineage_to', ['to_token_id'], unique=False)

    op.create_table('offers',
    sa.Column('offer_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('slot', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('holder', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('source_token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('escrow_token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('financier', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('value', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('price', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('expiry', sa.BigInteger(), nullable=False),
    sa.Column('registration_ref', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('offered_tx', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('closed_tx', scf_chain.db.types.Hex32(length=66), nullable=True),
    sa.Column('accepted_by', scf_chain.db.types.Address(length=42), nullable=True),
    sa.Column('returned_to_token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=True),
    sa.PrimaryKeyConstraint('offer_id')
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index('ix_offers_slot', ['slot'], unique=False)

    op.create_table('participants',
    sa.Column('address', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('roles', sa.Integer(), nullable=False),
    sa.Column('first_block', sa.BigInteger(), nullable=False),
    sa.Column('updated_block', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('address')
    )
    op.create_table('raw_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_hash', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('block_time', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('address', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tx_hash', 'log_index', name='uq_raw_events_tx_log')
    )
    with op.batch_alter_table('raw_events', schema=None) as batch_op:
        batch_op.create_index('ix_raw_events_block', ['block_number', 'log_index'], unique=False)
        batch_op.create_index('ix_raw_events_name', ['name'], unique=False)

    op.create_table('receivables',
    sa.Column('slot', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('debtor', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('creditor', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('face_value', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('settlement_token', scf_chain.db.types.Address(length=42), nullable=True),
    sa.Column('maturity', sa.BigInteger(), nullable=False),
    sa.Column('invoice_key', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('evidence_root', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('initiated_by_debtor', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('applied_block', sa.BigInteger(), nullable=False),
    sa.Column('applied_tx', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('confirmed_tx', scf_chain.db.types.Hex32(length=66), nullable=True),
    sa.Column('issued_at', sa.BigInteger(), nullable=True),
    sa.Column('first_token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=True),
    sa.Column('collect_enabled', sa.Boolean(), nullable=False),
    sa.Column('repaid', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('paid_out', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.PrimaryKeyConstraint('slot')
    )
    with op.batch_alter_table('receivables', schema=None) as batch_op:
        batch_op.create_index('ix_receivables_creditor', ['creditor'], unique=False)
        batch_op.create_index('ix_receivables_debtor', ['debtor'], unique=False)

    op.create_table('tokens',
    sa.Column('token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('slot', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('owner', scf_chain.db.types.Address(length=42), nullable=False),
    sa.Column('value', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.Column('parent_token_id', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=True),
    sa.Column('minted_block', sa.BigInteger(), nullable=False),
    sa.Column('minted_tx', scf_chain.db.types.Hex32(length=66), nullable=False),
    sa.Column('burned', sa.Boolean(), nullable=False),
    sa.Column('redeemed', scf_chain.db.types.Uint256(precision=78, scale=0), nullable=False),
    sa.PrimaryKeyConstraint('token_id')
    )
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.create_index('ix_tokens_owner', ['owner'], unique=False)
        batch_op.create_index('ix_tokens_slot', ['slot'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_tokens_slot')
        batch_op.drop_index('ix_tokens_owner')

    op.drop_table('tokens')
    with op.batch_alter_table('receivables', schema=None) as batch_op:
        batch_op.drop_index('ix_receivables_debtor')
        batch_op.drop_index('ix_receivables_creditor')

    op.drop_table('receivables')
    with op.batch_alter_table('raw_events', schema=None) as batch_op:
        batch_op.drop_index('ix_raw_events_name')
        batch_op.drop_index('ix_raw_events_block')

    op.drop_table('raw_events')
    op.drop_table('participants')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index('ix_offers_slot')

    op.drop_table('offers')
    with op.batch_alter_table('lineage_edges', schema=None) as batch_op:
        batch_op.drop_index('ix_lineage_to')
        batch_op.drop_index('ix_lineage_slot')
        batch_op.drop_index('ix_lineage_from')

    op.drop_table('lineage_edges')
    op.drop_table('indexer_cursor')
    op.drop_table('indexed_blocks')
    op.drop_table('holdings')
    with op.batch_alter_table('fund_flows', schema=None) as batch_op:
        batch_op.drop_index('ix_fund_flows_slot')
        batch_op.drop_index('ix_fund_flows_payer')
        batch_op.drop_index('ix_fund_flows_payee')

    op.drop_table('fund_flows')
    op.drop_table('evidence_roots')
    op.drop_table('evidence_revoked_leaves')
