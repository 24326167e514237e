"""Typed results of contract operations and typed views of contract state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

from scf_chain.contracts.encoding import OfferStatus, ReceivableState
from scf_chain.contracts.events import DecodedEvent


class Role(IntFlag):
    """Participant roles, as the contract's bitmask."""

    NONE = 0
    OPERATOR = 1
    DEBTOR = 2
    SUPPLIER = 4
    FINANCIER = 8
    ANCHORER = 16
    AUDITOR = 32


class DocType(IntEnum):
    """Evidence batch types, as EvidenceRegistry's constants."""

    PURCHASE_ORDER = 1
    LOGISTICS = 2
    INVOICE = 3
    MIXED = 4


@dataclass(frozen=True)
class TxResult:
    """A mined transaction and the system events it emitted."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: list[DecodedEvent] = field(repr=False)

    def named(self, name: str) -> list[DecodedEvent]:
        return [e for e in self.events if e.name == name]


@dataclass(frozen=True)
class Applied:
    tx: TxResult
    slot: int
    initiated_by_debtor: bool


@dataclass(frozen=True)
class Confirmed:
    tx: TxResult
    slot: int
    token_id: int
    creditor: str
    face_value: int


@dataclass(frozen=True)
class ValueMoved:
    """A split (to an address) or a merge (to a token): `value` left `from_token_id`."""

    tx: TxResult
    from_token_id: int
    to_token_id: int
    value: int


@dataclass(frozen=True)
class SplitPart:
    """One recipient's new token in a batched split."""

    to: str
    token_id: int
    value: int


@dataclass(frozen=True)
class SplitMany:
    """A batched split (`splitMany`): `parts[i]` went to the i-th recipient, out of
    `from_token_id`, all in one transaction."""

    tx: TxResult
    from_token_id: int
    parts: tuple[SplitPart, ...]

    @property
    def value(self) -> int:
        return sum(p.value for p in self.parts)


@dataclass(frozen=True)
class TokenTransferred:
    tx: TxResult
    token_id: int
    from_address: str
    to_address: str


@dataclass(frozen=True)
class Offered:
    tx: TxResult
    offer_id: int
    slot: int
    escrow_token_id: int
    value: int
    price: int


@dataclass(frozen=True)
class Financed:
    tx: TxResult
    offer_id: int
    slot: int
    financier: str
    holder: str
    token_id: int
    value: int
    price: int


@dataclass(frozen=True)
class OfferCancelled:
    tx: TxResult
    offer_id: int
    returned_to_token_id: int


@dataclass(frozen=True)
class Repaid:
    tx: TxResult
    slot: int
    amount: int
    total_repaid: int


@dataclass(frozen=True)
class Redemption:
    slot: int
    token_id: int
    holder: str
    amount: int
    remaining_value: int


@dataclass(frozen=True)
class Redeemed:
    tx: TxResult
    redemptions: list[Redemption]

    @property
    def amount(self) -> int:
        return sum(r.amount for r in self.redemptions)


@dataclass(frozen=True)
class Anchored:
    tx: TxResult
    root: str
    doc_type: int
    count: int


@dataclass(frozen=True)
class Receivable:
    """One slot's record (`getReceivable`) with its derived state."""

    slot: int
    debtor: str
    creditor: str
    face_value: int
    settlement_token: str
    maturity: int
    issued_at: int
    status: ReceivableState
    initiated_by_debtor: bool
    collect_enabled: bool
    invoice_key: str
    invoice_leaf: str
    evidence_root: str
    repaid: int
    paid_out: int

    @property
    def outstanding(self) -> int:
        return self.face_value - self.repaid


@dataclass(frozen=True)
class Offer:
    offer_id: int
    holder: str
    financier: str
    source_token_id: int
    escrow_token_id: int
    value: int
    price: int
    expiry: int
    status: OfferStatus
    registration_ref: str


@dataclass(frozen=True)
class Policy:
    min_unit: int
    max_tenor: int
    split_allowed: bool
    transfer_allowed: bool


@dataclass(frozen=True)
class EvidenceRoot:
    root: str
    anchorer: str
    doc_type: int
    count: int
    manifest_hash: str
    anchored_at: int
    revoked: bool

    @property
    def anchored(self) -> bool:
        return self.anchored_at != 0
