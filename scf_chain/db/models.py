"""ORM models of the indexed store: raw events, cursor and block hashes, and the read models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from scf_chain.db.types import Address, Hex32, Uint256


class Base(DeclarativeBase):
    """Declarative base of every scf_chain table."""


# -- ingestion bookkeeping --------------------------------------------------------------------------
class IndexerCursor(Base):
    """The last block whose events are fully applied (committed with them, in one transaction)."""

    __tablename__ = "indexer_cursor"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_block: Mapped[int] = mapped_column(BigInteger)
    last_block_hash: Mapped[str] = mapped_column(Hex32)


class IndexedBlock(Base):
    """Hash (and time) of each processed block that had events or ended a batch: reorg detection."""

    __tablename__ = "indexed_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(Hex32)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class RawEvent(Base):
    """Every decoded log of the system's contracts, and settlement-token transfers touching them."""

    __tablename__ = "raw_events"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_raw_events_tx_log"),
        Index("ix_raw_events_block", "block_number", "log_index"),
        Index("ix_raw_events_name", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Hex32)
    block_time: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Hex32)
    log_index: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(Address)
    name: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    # facts read from the chain at this event's block that the event does not carry
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


# -- read models ------------------------------------------------------------------------------------
class Participant(Base):
    """A registered account and its role bitmask (OPERATOR 1, DEBTOR 2, SUPPLIER 4, ...)."""

    __tablename__ = "participants"

    address: Mapped[str] = mapped_column(Address, primary_key=True)
    roles: Mapped[int] = mapped_column(Integer)
    first_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Receivable(Base):
    """One receivable (ERC-3525 slot). status: pending, active, rejected, withdrawn (as stored)."""

    __tablename__ = "receivables"
    __table_args__ = (Index("ix_receivables_debtor", "debtor"), Index("ix_receivables_creditor", "creditor"))

    slot: Mapped[int] = mapped_column(Uint256, primary_key=True)
    debtor: Mapped[str] = mapped_column(Address)
    creditor: Mapped[str] = mapped_column(Address)
    face_value: Mapped[int] = mapped_column(Uint256)
    settlement_token: Mapped[str | None] = mapped_column(Address, nullable=True)
    maturity: Mapped[int] = mapped_column(BigInteger)
    invoice_key: Mapped[str] = mapped_column(Hex32)
    evidence_root: Mapped[str] = mapped_column(Hex32)
    initiated_by_debtor: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    applied_block: Mapped[int] = mapped_column(BigInteger)
    applied_tx: Mapped[str] = mapped_column(Hex32)
    confirmed_tx: Mapped[str | None] = mapped_column(Hex32, nullable=True)
    issued_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    first_token_id: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    collect_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    repaid: Mapped[int] = mapped_column(Uint256, default=0)
    paid_out: Mapped[int] = mapped_column(Uint256, default=0)


class Token(Base):
    """One ERC-3525 token: owner, value, and the token it was split from (`parent_token_id`)."""

    __tablename__ = "tokens"
    __table_args__ = (Index("ix_tokens_slot", "slot"), Index("ix_tokens_owner", "owner"))

    token_id: Mapped[int] = mapped_column(Uint256, primary_key=True)
    slot: Mapped[int] = mapped_column(Uint256)
    owner: Mapped[str] = mapped_column(Address)
    value: Mapped[int] = mapped_column(Uint256)
    parent_token_id: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    minted_block: Mapped[int] = mapped_column(BigInteger)
    minted_tx: Mapped[str] = mapped_column(Hex32)
    burned: Mapped[bool] = mapped_column(Boolean, default=False)
    redeemed: Mapped[int] = mapped_column(Uint256, default=0)


class Holding(Base):
    """What one account holds of one slot: live token count and total value."""

    __tablename__ = "holdings"

    address: Mapped[str] = mapped_column(Address, primary_key=True)
    slot: Mapped[int] = mapped_column(Uint256, primary_key=True)
    value: Mapped[int] = mapped_column(Uint256)
    token_count: Mapped[int] = mapped_column(Integer)


class LineageEdge(Base):
    """One TransferValue: value moved from a token to a token (0 = minted / redeemed)."""

    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_lineage_tx_log"),
        Index("ix_lineage_slot", "slot"),
        Index("ix_lineage_from", "from_token_id"),
        Index("ix_lineage_to", "to_token_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    slot: Mapped[int] = mapped_column(Uint256)
    from_token_id: Mapped[int] = mapped_column(Uint256)
    to_token_id: Mapped[int] = mapped_column(Uint256)
    value: Mapped[int] = mapped_column(Uint256)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Hex32)
    log_index: Mapped[int] = mapped_column(Integer)


class Offer(Base):
    """A financing offer. status: open, accepted, cancelled."""

    __tablename__ = "offers"
    __table_args__ = (Index("ix_offers_slot", "slot"),)

    offer_id: Mapped[int] = mapped_column(Uint256, primary_key=True)
    slot: Mapped[int] = mapped_column(Uint256)
    holder: Mapped[str] = mapped_column(Address)
    source_token_id: Mapped[int] = mapped_column(Uint256)
    escrow_token_id: Mapped[int] = mapped_column(Uint256)
    financier: Mapped[str] = mapped_column(Address)  # 0x0…0: any registered financier
    value: Mapped[int] = mapped_column(Uint256)
    price: Mapped[int] = mapped_column(Uint256)
    expiry: Mapped[int] = mapped_column(BigInteger)
    registration_ref: Mapped[str] = mapped_column(Hex32)
    status: Mapped[str] = mapped_column(String(16))
    offered_tx: Mapped[str] = mapped_column(Hex32)
    closed_tx: Mapped[str | None] = mapped_column(Hex32, nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(Address, nullable=True)
    returned_to_token_id: Mapped[int | None] = mapped_column(Uint256, nullable=True)


class EvidenceRoot(Base):
    """An anchored evidence batch root, and whether it was revoked."""

    __tablename__ = "evidence_roots"

    root: Mapped[str] = mapped_column(Hex32, primary_key=True)
    anchorer: Mapped[str] = mapped_column(Address)
    doc_type: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(BigInteger)
    manifest_hash: Mapped[str] = mapped_column(Hex32)
    anchored_block: Mapped[int] = mapped_column(BigInteger)
    anchored_tx: Mapped[str] = mapped_column(Hex32)
    anchored_at: Mapped[int] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_by: Mapped[str | None] = mapped_column(Address, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(Hex32, nullable=True)
    revoked_tx: Mapped[str | None] = mapped_column(Hex32, nullable=True)


class RevokedLeaf(Base):
    """A single revoked leaf of an anchored root."""

    __tablename__ = "evidence_revoked_leaves"

    root: Mapped[str] = mapped_column(Hex32, primary_key=True)
    leaf: Mapped[str] = mapped_column(Hex32, primary_key=True)
    revoked_by: Mapped[str] = mapped_column(Address)
    reason: Mapped[str] = mapped_column(Hex32)
    tx_hash: Mapped[str] = mapped_column(Hex32)


class FundFlow(Base):
    """One movement of settlement tokens. kind: financing, repayment, redemption, other."""

    __tablename__ = "fund_flows"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_fund_flows_tx_log"),
        Index("ix_fund_flows_slot", "slot"),
        Index("ix_fund_flows_payer", "payer", "block_time"),
        Index("ix_fund_flows_payee", "payee", "block_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    payer: Mapped[str] = mapped_column(Address)
    payee: Mapped[str] = mapped_column(Address)
    amount: Mapped[int] = mapped_column(Uint256)
    token: Mapped[str | None] = mapped_column(Address, nullable=True)
    slot: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    token_id: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    offer_id: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    registration_ref: Mapped[str | None] = mapped_column(Hex32, nullable=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Hex32)
    log_index: Mapped[int] = mapped_column(Integer)


# -- keeper ---------------------------------------------------------------------------------------
class KeeperAction(Base):
    """Every keeper action with its transaction: collect, redeem_batch, or a failure."""

    __tablename__ = "keeper_actions"
    __table_args__ = (Index("ix_keeper_actions_slot", "slot"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger)
    keeper: Mapped[str] = mapped_column(Address)
    action: Mapped[str] = mapped_column(String(32))
    slot: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    token_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    amount: Mapped[int] = mapped_column(Uint256, default=0)
    tx_hash: Mapped[str | None] = mapped_column(Hex32, nullable=True)
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)


class KeeperLease(Base):
    """Which keeper works on a slot until when: keepers running at once split the work."""

    __tablename__ = "keeper_leases"

    slot: Mapped[int] = mapped_column(Uint256, primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)


# -- gateway --------------------------------------------------------------------------------------
class GatewayParticipant(Base):
    """A participant of the HTTP gateway: its name, on-chain account and keystore key."""

    __tablename__ = "gateway_participants"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(Address, unique=True)
    roles: Mapped[int] = mapped_column(Integer)
    key_name: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger)
    # `custodial` (its key is in the keystore) or `external` (it signs itself; key_name is "")
    custody: Mapped[str] = mapped_column(String(16), default="custodial",
                                         server_default="custodial")


class ApiKey(Base):
    """An API key: a public id and the SHA-256 of its 256-bit secret (the secret is never kept)."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_participant", "participant"),)

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    participant: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class IdempotencyRecord(Base):
    """A POST seen under an Idempotency-Key: its request fingerprint and the response it got.

    state: `pending` (claimed by the run whose token is `owner`), `interrupted` (a run ended
    without an answer after a transaction may have left the process: resolved from the chain by
    a retry or at start), `done` (`status_code` and `body` are the answer; a secret in it is
    never stored), `unknown` (written by releases before the journal; no longer written).
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (Index("ix_idempotency_records_expires", "expires_at"),)

    participant: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    # the run working on the record (a token per claim; see IdempotencyStore)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # purged after this time (unless unfinished with journaled transactions)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class TxJournalEntry(Base):
    """A transaction signed while an idempotent request ran, written before it was broadcast.

    `raw` is the signed transaction, kept until the request is answered so that an unfinished
    request can be resolved from the chain (mined, rebroadcast, or impossible); `call_hash`
    identifies what it does (sender, to, value, data) for matching on replay. status: `signed`
    (it may have reached the node), `refused` (the node refused it for certain: it never
    happened).
    """

    __tablename__ = "tx_journal"
    __table_args__ = (
        UniqueConstraint("participant", "key", "seq", name="uq_tx_journal_request_seq"),
        Index("ix_tx_journal_sender_nonce", "sender", "nonce"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    participant: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    seq: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(Address)
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Hex32)
    call_hash: Mapped[str] = mapped_column(Hex32)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)


class AccountNonce(Base):
    """An account's next transaction nonce, shared by the gateway processes of one PostgreSQL
    store (`scf_chain.platform.nonces`). NULL: read it from the node at the next send."""

    __tablename__ = "account_nonces"

    account: Mapped[str] = mapped_column(Address, primary_key=True)
    next_nonce: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class EvidenceDocument(Base):
    """A submitted document: its hashes, and the batch and proof once anchored."""

    __tablename__ = "evidence_documents"
    __table_args__ = (Index("ix_evidence_documents_batch", "batch_root"),
                      UniqueConstraint("doc_key", name="uq_evidence_documents_doc_key"))

    doc_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    doc_type: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(128))
    doc_key: Mapped[str] = mapped_column(Hex32)
    fields_root: Mapped[str] = mapped_column(Hex32)
    doc_hash: Mapped[str] = mapped_column(Hex32)
    leaf: Mapped[str] = mapped_column(Hex32)
    batch_root: Mapped[str | None] = mapped_column(Hex32, nullable=True)
    proof: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    anchored_tx: Mapped[str | None] = mapped_column(Hex32, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


READ_MODELS: tuple[type[Base], ...] = (
    Participant, Receivable, Token, Holding, LineageEdge, Offer, EvidenceRoot, RevokedLeaf, FundFlow,
)


# -- risk control (scf_chain.risk) ----------------------------------------------------------------
# Feature tables folded from the same events as the read models (rebuilt with them after a reorg);
# document facts, alerts and their history are not derived from events and are never rebuilt.
class RiskToken(Base):
    """A token as the risk fold sees it: owner and value now, split depth and how it was made."""

    __tablename__ = "risk_tokens"
    __table_args__ = (Index("ix_risk_tokens_slot", "slot"),)

    token_id: Mapped[int] = mapped_column(Uint256, primary_key=True)
    slot: Mapped[int] = mapped_column(Uint256)
    owner: Mapped[str] = mapped_column(Address)
    value: Mapped[int] = mapped_column(Uint256)
    depth: Mapped[int] = mapped_column(Integer)  # splits between it and the confirmed token
    children: Mapped[int] = mapped_column(Integer)  # tokens split off it
    minted_at: Mapped[int] = mapped_column(BigInteger)
    minted_tx: Mapped[str] = mapped_column(Hex32)
    parent_token_id: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    split_by: Mapped[str | None] = mapped_column(Address, nullable=True)  # the splitting holder
    split_value: Mapped[int | None] = mapped_column(Uint256, nullable=True)  # value cut off


class RiskEdge(Base):
    """Value passed from one participant to another: kind transfer (split or whole token to
    someone else) or financing (sold to a financier at `price`)."""

    __tablename__ = "risk_edges"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_risk_edges_tx_log"),
        Index("ix_risk_edges_time", "block_time"),
        Index("ix_risk_edges_sender", "sender"),
        Index("ix_risk_edges_recipient", "recipient"),
        Index("ix_risk_edges_slot", "slot"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    slot: Mapped[int] = mapped_column(Uint256)
    sender: Mapped[str] = mapped_column(Address)
    recipient: Mapped[str] = mapped_column(Address)
    value: Mapped[int] = mapped_column(Uint256)
    price: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    offer_id: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    annual_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    block_time: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Hex32)
    log_index: Mapped[int] = mapped_column(Integer)


class RiskReceivable(Base):
    """Per receivable: terms, repayment, financing and split shape; evidence columns are set
    by the evidence pass (null until it has looked)."""

    __tablename__ = "risk_receivables"
    __table_args__ = (Index("ix_risk_receivables_debtor", "debtor"),
                      Index("ix_risk_receivables_creditor", "creditor"),
                      Index("ix_risk_receivables_invoice", "invoice_key"),
                      Index("ix_risk_receivables_unchecked", "evidence_checked"))

    slot: Mapped[int] = mapped_column(Uint256, primary_key=True)
    debtor: Mapped[str] = mapped_column(Address)
    creditor: Mapped[str] = mapped_column(Address)
    face_value: Mapped[int] = mapped_column(Uint256)
    maturity: Mapped[int] = mapped_column(BigInteger)
    invoice_key: Mapped[str] = mapped_column(Hex32)
    status: Mapped[str] = mapped_column(String(16))
    applied_at: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    repaid: Mapped[int] = mapped_column(Uint256)
    repayments: Mapped[int] = mapped_column(Integer)
    repaid_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # when fully repaid
    first_financed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    first_cash_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # creditor's
    financings: Mapped[int] = mapped_column(Integer)
    financed_value: Mapped[int] = mapped_column(Uint256)
    financed_price: Mapped[int] = mapped_column(Uint256)
    tokens: Mapped[int] = mapped_column(Integer)
    max_depth: Mapped[int] = mapped_column(Integer)
    max_fanout: Mapped[int] = mapped_column(Integer)
    # evidence (the evidence pass): order, delivery, invoice found; cross-check outcome
    evidence_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    has_order: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    has_delivery: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    has_invoice: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    consistency: Mapped[str | None] = mapped_column(String(40), nullable=True)  # ok or a code
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RiskDebtor(Base):
    """Per debtor: limit, exposure, repayment record, and supplier concentration sums."""

    __tablename__ = "risk_debtors"

    address: Mapped[str] = mapped_column(Address, primary_key=True)
    credit_limit: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    confirmed_count: Mapped[int] = mapped_column(Integer)
    confirmed_face: Mapped[int] = mapped_column(Uint256)
    outstanding_face: Mapped[int] = mapped_column(Uint256)
    repaid_total: Mapped[int] = mapped_column(Uint256)
    settled_count: Mapped[int] = mapped_column(Integer)
    on_time_count: Mapped[int] = mapped_column(Integer)
    late_seconds_sum: Mapped[int] = mapped_column(BigInteger)
    late_seconds_max: Mapped[int] = mapped_column(BigInteger)
    payable_seconds_sum: Mapped[int] = mapped_column(BigInteger)  # confirmation to full repayment
    partial_payments: Mapped[int] = mapped_column(Integer)
    face_squares: Mapped[int] = mapped_column(Uint256)  # Σ (face per supplier)²: HHI numerator
    top_supplier_face: Mapped[int] = mapped_column(Uint256)


class RiskPair(Base):
    """Confirmed receivables of one supplier on one debtor."""

    __tablename__ = "risk_pairs"
    __table_args__ = (Index("ix_risk_pairs_supplier", "supplier"),)

    debtor: Mapped[str] = mapped_column(Address, primary_key=True)
    supplier: Mapped[str] = mapped_column(Address, primary_key=True)
    confirmed_count: Mapped[int] = mapped_column(Integer)
    confirmed_face: Mapped[int] = mapped_column(Uint256)


class RiskHolder(Base):
    """Per supplier or holder: financing, implied rates, time to first financing, splits."""

    __tablename__ = "risk_holders"

    address: Mapped[str] = mapped_column(Address, primary_key=True)
    financings: Mapped[int] = mapped_column(Integer)
    financed_value: Mapped[int] = mapped_column(Uint256)
    financed_price: Mapped[int] = mapped_column(Uint256)
    rated: Mapped[int] = mapped_column(Integer)  # financings with an implied rate
    rate_sum: Mapped[float] = mapped_column(Float)
    rate_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    first_financings: Mapped[int] = mapped_column(Integer)  # own receivables financed
    to_first_financing_s: Mapped[int] = mapped_column(BigInteger)  # Σ confirmation → 1st financing
    splits: Mapped[int] = mapped_column(Integer)
    max_fanout: Mapped[int] = mapped_column(Integer)
    max_depth: Mapped[int] = mapped_column(Integer)
    transfers_out: Mapped[int] = mapped_column(Integer)
    transfers_in: Mapped[int] = mapped_column(Integer)


READ_MODELS += (RiskToken, RiskEdge, RiskReceivable, RiskDebtor, RiskPair, RiskHolder)


class RiskDocument(Base):
    """Facts of a submitted trade document the risk engine links and counts (read once, when
    first seen, from the encrypted document store)."""

    __tablename__ = "risk_documents"
    __table_args__ = (Index("ix_risk_documents_order", "order_number", "buyer"),
                      Index("ix_risk_documents_seller", "seller"),
                      Index("ix_risk_documents_created", "created_at"),
                      Index("ix_risk_documents_key", "doc_key", "kind"))

    doc_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # purchase_order, logistics, invoice
    doc_key: Mapped[str] = mapped_column(Hex32)
    order_number: Mapped[str] = mapped_column(String(64))  # the order it belongs to
    buyer: Mapped[str] = mapped_column(Address)  # logistics: the consignee
    seller: Mapped[str] = mapped_column(Address)  # logistics: the shipper
    event: Mapped[str | None] = mapped_column(String(16), nullable=True)  # logistics event
    amount: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    doc_time: Mapped[int] = mapped_column(BigInteger)  # issue date / event time (epoch seconds)
    created_at: Mapped[int] = mapped_column(BigInteger)


class RiskAlert(Base):
    """A detector's finding. status: open, acknowledged, dismissed, confirmed. Never deleted;
    `(detector, finding_key)` is unique, so a finding raises once."""

    __tablename__ = "risk_alerts"
    __table_args__ = (UniqueConstraint("detector", "finding_key", name="uq_risk_alerts_finding"),
                      Index("ix_risk_alerts_status", "status"),
                      Index("ix_risk_alerts_slot", "slot"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    detector: Mapped[str] = mapped_column(String(32))
    finding_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8))
    slot: Mapped[int | None] = mapped_column(Uint256, nullable=True)
    summary: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    raised_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class RiskAlertParty(Base):
    """A participant an alert is about (for filtering and visibility)."""

    __tablename__ = "risk_alert_parties"
    __table_args__ = (Index("ix_risk_alert_parties_address", "address"),)

    alert_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address: Mapped[str] = mapped_column(Address, primary_key=True)


class RiskAlertEvent(Base):
    """One step of an alert's lifecycle (raised, acknowledged, ...): by whom, when, why."""

    __tablename__ = "risk_alert_events"
    __table_args__ = (Index("ix_risk_alert_events_alert", "alert_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigInteger)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class RiskState(Base):
    """Small named counters of the risk passes (what the last detector run saw)."""

    __tablename__ = "risk_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class RiskPolicyVersion(Base):
    """One version of the risk gates' policy (scf_chain.risk.gates): the newest is in force.
    Never updated nor deleted, so every change keeps who made it, when and why."""

    __tablename__ = "risk_policy_versions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class CustodyPrepared(Base):
    """A transaction prepared for a participant that signs itself (scf_chain.platform.custody).

    One row per step of a request (`request_id`: the route `path` and its `body`, run under one
    Idempotency-Key); `tx` is the unsigned transaction as the API shows it, `call_hash` what it
    does; `tx_hash` the signed transaction accepted for it, so that a resubmission replays the
    request's answer even after `expires_at`.
    """

    __tablename__ = "custody_prepared"
    __table_args__ = (
        UniqueConstraint("request_id", "step", name="uq_custody_prepared_request_step"),
        Index("ix_custody_prepared_expires", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(40))
    step: Mapped[int] = mapped_column(Integer)
    participant: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(Address)
    tx: Mapped[dict[str, Any]] = mapped_column(JSON)
    call_hash: Mapped[str] = mapped_column(Hex32)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    tx_hash: Mapped[str | None] = mapped_column(Hex32, nullable=True)
