"""Typed contract clients and the `ScfSystem` that hands them out for one deployment."""

from scf_chain.clients.contracts import (
    EvidenceRegistryClient,
    ReceivableTokenClient,
    SettlementTokenClient,
)
from scf_chain.clients.results import (
    Anchored,
    Applied,
    Confirmed,
    DocType,
    EvidenceRoot,
    Financed,
    Offer,
    OfferCancelled,
    Offered,
    OfferStatus,
    Policy,
    Receivable,
    ReceivableState,
    Redeemed,
    Redemption,
    Repaid,
    Role,
    SplitMany,
    SplitPart,
    TokenTransferred,
    TxResult,
    ValueMoved,
)
from scf_chain.clients.system import ScfSystem

__all__ = [
    "Anchored", "Applied", "Confirmed", "DocType", "EvidenceRegistryClient", "EvidenceRoot",
    "Financed", "Offer", "OfferCancelled", "OfferStatus", "Offered", "Policy", "Receivable",
    "ReceivableState", "ReceivableTokenClient", "Redeemed", "Redemption", "Repaid", "Role",
    "ScfSystem", "SettlementTokenClient", "SplitMany", "SplitPart", "TokenTransferred", "TxResult", "ValueMoved",
]
