"""One deployment on one chain: hands out clients acting as a given account."""

from __future__ import annotations

import threading

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from scf_chain.chain.base import ChainBackend
from scf_chain.chain.sender import DEFAULT_RECEIPT_TIMEOUT_S, SharedNonces, TxSender
from scf_chain.clients.contracts import (
    EvidenceRegistryClient,
    ReceivableTokenClient,
    SettlementTokenClient,
)
from scf_chain.deploy import Manifest


class ScfSystem:
    """The chain, the manifest and one `TxSender` per account (nonces must have one owner in
    the process; `nonces` shares them with other processes)."""

    def __init__(self, chain: ChainBackend, manifest: Manifest,
                 receipt_timeout_s: float = DEFAULT_RECEIPT_TIMEOUT_S,
                 nonces: SharedNonces | None = None) -> None:
        self.chain = chain
        self.manifest = manifest
        self.receipt_timeout_s = receipt_timeout_s
        self.nonces = nonces
        self._senders: dict[str, TxSender] = {}
        self._lock = threading.Lock()

    def sender(self, account: LocalAccount) -> TxSender:
        """The account's one sender (created on first use, then shared by every caller)."""
        address = to_checksum_address(account.address)
        with self._lock:
            s = self._senders.get(address)
            if s is None:
                s = TxSender(self.chain, account, receipt_timeout_s=self.receipt_timeout_s,
                             nonces=self.nonces)
                self._senders[address] = s
            return s

    def close(self) -> None:
        """Close every sender (the chain may outlive this system, as a test's shared chain does)."""
        with self._lock:
            senders, self._senders = list(self._senders.values()), {}
        for s in senders:
            s.close()

    def token(self, account: LocalAccount | TxSender) -> ReceivableTokenClient:
        return ReceivableTokenClient(self._as_sender(account), self.manifest.receivable_token)

    def evidence(self, account: LocalAccount | TxSender) -> EvidenceRegistryClient:
        return EvidenceRegistryClient(self._as_sender(account), self.manifest.evidence_registry)

    def settlement(self, account: LocalAccount | TxSender,
                   address: str | None = None) -> SettlementTokenClient:
        target = address or self.manifest.dev_settlement_token or self.manifest.settlement_tokens[0]
        return SettlementTokenClient(self._as_sender(account), target)

    def _as_sender(self, account: LocalAccount | TxSender) -> TxSender:
        return account if isinstance(account, TxSender) else self.sender(account)
