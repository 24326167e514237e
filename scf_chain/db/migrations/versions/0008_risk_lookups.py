"""indexes for the risk evidence pass: documents by key, receivables left to check

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

The evidence pass finds a receivable's invoice by its key (`risk_documents.doc_key`) and the
receivables it has still to check (`risk_receivables.evidence_checked`); without these indexes
both were scans of the whole table on every pass, 118 s of a 20,000-receivable market's pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_risk_documents_key', 'risk_documents', ['doc_key', 'kind'])
    op.create_index('ix_risk_receivables_unchecked', 'risk_receivables', ['evidence_checked'])


def downgrade() -> None:
    op.drop_index('ix_risk_receivables_unchecked', table_name='risk_receivables')
    op.drop_index('ix_risk_documents_key', table_name='risk_documents')
