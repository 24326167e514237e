"""risk control: feature tables folded from events, document facts, alerts with their history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scf_chain.db.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Address = scf_chain.db.types.Address(length=42)
Hex32 = scf_chain.db.types.Hex32(length=66)
Uint256 = scf_chain.db.types.Uint256()
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _c(name: str, type_: sa.types.TypeEngine, nullable: bool = False, **kw: object) -> sa.Column:
    return sa.Column(name, type_, nullable=nullable, **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        'risk_tokens',
        _c('token_id', Uint256, primary_key=True),
        _c('slot', Uint256), _c('owner', Address), _c('value', Uint256),
        _c('depth', sa.Integer()), _c('children', sa.Integer()),
        _c('minted_at', sa.BigInteger()), _c('minted_tx', Hex32),
        _c('parent_token_id', Uint256, True), _c('split_by', Address, True),
        _c('split_value', Uint256, True),
    )
    op.create_index('ix_risk_tokens_slot', 'risk_tokens', ['slot'])
    op.create_table(
        'risk_edges',
        _c('id', Id, primary_key=True),
        _c('kind', sa.String(16)), _c('slot', Uint256), _c('sender', Address),
        _c('recipient', Address), _c('value', Uint256), _c('price', Uint256, True),
        _c('offer_id', Uint256, True), _c('annual_rate', sa.Float(), True),
        _c('block_time', sa.BigInteger()), _c('tx_hash', Hex32), _c('log_index', sa.Integer()),
        sa.UniqueConstraint('tx_hash', 'log_index', name='uq_risk_edges_tx_log'),
    )
    for col in ('block_time', 'sender', 'recipient', 'slot'):
        name = 'time' if col == 'block_time' else col
        op.create_index(f'ix_risk_edges_{name}', 'risk_edges', [col])
    op.create_table(
        'risk_receivables',
        _c('slot', Uint256, primary_key=True),
        _c('debtor', Address), _c('creditor', Address), _c('face_value', Uint256),
        _c('maturity', sa.BigInteger()), _c('invoice_key', Hex32), _c('status', sa.String(16)),
        _c('applied_at', sa.BigInteger()), _c('issued_at', sa.BigInteger(), True),
        _c('repaid', Uint256), _c('repayments', sa.Integer()),
        _c('repaid_at', sa.BigInteger(), True), _c('first_financed_at', sa.BigInteger(), True),
        _c('first_cash_at', sa.BigInteger(), True),
        _c('financings', sa.Integer()), _c('financed_value', Uint256),
        _c('financed_price', Uint256), _c('tokens', sa.Integer()), _c('max_depth', sa.Integer()),
        _c('max_fanout', sa.Integer()), _c('evidence_checked', sa.Boolean()),
        _c('has_order', sa.Boolean(), True), _c('has_delivery', sa.Boolean(), True),
        _c('has_invoice', sa.Boolean(), True), _c('consistency', sa.String(40), True),
        _c('delivered_at', sa.BigInteger(), True),
    )
    op.create_index('ix_risk_receivables_debtor', 'risk_receivables', ['debtor'])
    op.create_index('ix_risk_receivables_creditor', 'risk_receivables', ['creditor'])
    op.create_index('ix_risk_receivables_invoice', 'risk_receivables', ['invoice_key'])
    op.create_table(
        'risk_debtors',
        _c('address', Address, primary_key=True),
        _c('credit_limit', Uint256, True), _c('confirmed_count', sa.Integer()),
        _c('confirmed_face', Uint256), _c('outstanding_face', Uint256),
        _c('repaid_total', Uint256), _c('settled_count', sa.Integer()),
        _c('on_time_count', sa.Integer()), _c('late_seconds_sum', sa.BigInteger()),
        _c('late_seconds_max', sa.BigInteger()), _c('payable_seconds_sum', sa.BigInteger()),
        _c('partial_payments', sa.Integer()), _c('face_squares', Uint256),
        _c('top_supplier_face', Uint256),
    )
    op.create_table(
        'risk_pairs',
        _c('debtor', Address, primary_key=True), _c('supplier', Address, primary_key=True),
        _c('confirmed_count', sa.Integer()), _c('confirmed_face', Uint256),
    )
    op.create_index('ix_risk_pairs_supplier', 'risk_pairs', ['supplier'])
    op.create_table(
        'risk_holders',
        _c('address', Address, primary_key=True),
        _c('financings', sa.Integer()), _c('financed_value', Uint256),
        _c('financed_price', Uint256), _c('rated', sa.Integer()), _c('rate_sum', sa.Float()),
        _c('rate_max', sa.Float(), True), _c('first_financings', sa.Integer()),
        _c('to_first_financing_s', sa.BigInteger()), _c('splits', sa.Integer()),
        _c('max_fanout', sa.Integer()), _c('max_depth', sa.Integer()),
        _c('transfers_out', sa.Integer()), _c('transfers_in', sa.Integer()),
    )
    op.create_table(
        'risk_documents',
        _c('doc_id', sa.String(64), primary_key=True),
        _c('kind', sa.String(16)), _c('doc_key', Hex32), _c('order_number', sa.String(64)),
        _c('buyer', Address), _c('seller', Address), _c('event', sa.String(16), True),
        _c('amount', Uint256, True), _c('doc_time', sa.BigInteger()),
        _c('created_at', sa.BigInteger()),
    )
    op.create_index('ix_risk_documents_order', 'risk_documents', ['order_number', 'buyer'])
    op.create_index('ix_risk_documents_seller', 'risk_documents', ['seller'])
    op.create_index('ix_risk_documents_created', 'risk_documents', ['created_at'])
    op.create_table(
        'risk_alerts',
        _c('id', Id, primary_key=True),
        _c('detector', sa.String(32)), _c('finding_key', sa.String(255)),
        _c('status', sa.String(16)), _c('severity', sa.String(8)), _c('slot', Uint256, True),
        _c('summary', sa.String(500)), _c('details', sa.JSON()),
        _c('raised_at', sa.BigInteger()), _c('updated_at', sa.BigInteger()),
        _c('updated_by', sa.String(64), True), _c('reason', sa.String(1000), True),
        sa.UniqueConstraint('detector', 'finding_key', name='uq_risk_alerts_finding'),
    )
    op.create_index('ix_risk_alerts_status', 'risk_alerts', ['status'])
    op.create_index('ix_risk_alerts_slot', 'risk_alerts', ['slot'])
    op.create_table(
        'risk_alert_parties',
        _c('alert_id', sa.BigInteger(), primary_key=True),
        _c('address', Address, primary_key=True),
    )
    op.create_index('ix_risk_alert_parties_address', 'risk_alert_parties', ['address'])
    op.create_table(
        'risk_alert_events',
        _c('id', Id, primary_key=True),
        _c('alert_id', sa.BigInteger()), _c('from_status', sa.String(16), True),
        _c('to_status', sa.String(16)), _c('by', sa.String(64)), _c('at', sa.BigInteger()),
        _c('reason', sa.String(1000), True),
    )
    op.create_index('ix_risk_alert_events_alert', 'risk_alert_events', ['alert_id'])
    op.create_table(
        'risk_state',
        _c('name', sa.String(64), primary_key=True), _c('value', sa.BigInteger()),
    )


def downgrade() -> None:
    for table in ('risk_state', 'risk_alert_events', 'risk_alert_parties', 'risk_alerts',
                  'risk_documents', 'risk_holders', 'risk_pairs', 'risk_debtors',
                  'risk_receivables', 'risk_edges', 'risk_tokens'):
        op.drop_table(table)
