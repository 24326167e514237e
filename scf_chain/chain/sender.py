"""Sign transactions locally, keep nonces without round trips, wait for receipts, type reverts."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import TimeExhausted

from scf_chain.chain.base import ChainBackend
from scf_chain.chain.codec import ContractCall
from scf_chain.chain.reverts import ErrorDecoder, default_decoder, revert_class, to_revert
from scf_chain.errors import ChainError, ContractRevert, TransactionTimeout

DEFAULT_RECEIPT_TIMEOUT_S = 120.0
FEE_CACHE_S = 2.0
GAS_HEADROOM = 1.25


@dataclass(frozen=True)
class TxReceipt:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    contract_address: str | None
    logs: list[Any] = field(repr=False)
    raw: Any = field(repr=False)


def _is_nonce_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "nonce too low" in text or "nonce too high" in text or "invalid nonce" in text or (
        "nonce" in text and "expected" in text
    )


class TxSender:
    """One account's transaction pipeline.

    Nonces: read once from the chain ('pending'), then assigned locally under a lock that is held
    from signing until the node accepted the raw transaction, so threads never reuse or skip a
    nonce; a transaction the node refuses gives its nonce back. Reverts are detected before
    sending (gas estimation) whenever possible, so a failing call costs no gas and no nonce; a
    transaction that reverts on chain is replayed with eth_call to recover its error.
    """

    def __init__(
        self,
        chain: ChainBackend,
        account: LocalAccount,
        decoder: ErrorDecoder | None = None,
        receipt_timeout_s: float = DEFAULT_RECEIPT_TIMEOUT_S,
    ) -> None:
        self.chain = chain
        self.w3 = chain.w3
        self.account = account
        self.address = to_checksum_address(account.address)
        self._decoder = decoder
        self.receipt_timeout_s = receipt_timeout_s
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self._fees: tuple[float, dict[str, int]] | None = None
        self._chain_id = chain.chain_id()
        chain.register_nonce_holder(self)

    def forget_nonce(self) -> None:
        """Re-read the nonce from the chain before the next send (after a snapshot revert)."""
        with self._lock:
            self._nonce = None

    @property
    def decoder(self) -> ErrorDecoder:
        if self._decoder is None:
            self._decoder = default_decoder()
        return self._decoder

    # -- fees and nonces ------------------------------------------------------------------------
    def _fee_fields(self) -> dict[str, int]:
        now = time.monotonic()
        cached = self._fees
        if cached and now - cached[0] < FEE_CACHE_S:
            return cached[1]
        block = self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:  # a pre-London or free-gas consortium chain
            fields = {"gasPrice": int(self.w3.eth.gas_price)}
        else:
            tip = 10**9 if base > 0 else 0
            fields = {"maxFeePerGas": int(base) * 2 + tip, "maxPriorityFeePerGas": tip}
        self._fees = (now, fields)
        return fields

    def resync_nonce(self) -> int:
        """Forget the local nonce and read it from the chain (pending) again."""
        with self._lock:
            self._nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))
            return self._nonce

    @property
    def next_nonce(self) -> int | None:
        return self._nonce

    # -- sending ---------------------------------------------------------------------------------
    def estimate_gas(self, tx: dict[str, Any]) -> int:
        try:
            return int(self.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except Exception as exc:
            revert = to_revert(exc, self.decoder)
            if revert is not None:
                raise revert from None
            raise ChainError(f"gas estimation failed: {exc}") from exc

    def send_raw(self, to: str | None, data: bytes | str = b"", value: int = 0,
                 gas: int | None = None) -> str:
        """Sign and broadcast; returns the transaction hash (does not wait)."""
        tx: dict[str, Any] = {"from": self.address, "value": int(value), "data": HexBytes(data),
                              "chainId": self._chain_id}
        if to is not None:
            tx["to"] = to_checksum_address(to)
        if gas is None:
            gas = int(self.estimate_gas(tx) * GAS_HEADROOM) + 10_000
        tx["gas"] = gas
        tx.update(self._fee_fields())
        for attempt in (1, 2):
            with self._lock:
                if self._nonce is None:
                    self._nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))
                tx["nonce"] = self._nonce
                signed = self.account.sign_transaction(tx)
                try:
                    tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                except Exception as exc:
                    revert = to_revert(exc, self.decoder)
                    if revert is not None:  # eth-tester executes on submission
                        raise revert from None
                    if attempt == 1 and _is_nonce_error(exc):
                        self._nonce = None  # someone else used this account: read it again
                        continue
                    raise ChainError(f"node refused transaction: {exc}") from exc
                self._nonce += 1
                return "0x" + bytes(tx_hash).hex()
        raise ChainError("nonce could not be synchronised with the node")  # pragma: no cover

    def wait(self, tx_hash: str, replay: dict[str, Any] | None = None) -> TxReceipt:
        """Wait for the receipt; raise TransactionTimeout, or the typed revert if it failed."""
        try:
            rcpt = self.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=self.receipt_timeout_s, poll_latency=0.02
            )
        except TimeExhausted as exc:
            raise TransactionTimeout(
                f"transaction {tx_hash} not mined within {self.receipt_timeout_s:.0f}s"
            ) from exc
        if int(rcpt["status"]) != 1:
            raise self._failure(tx_hash, rcpt, replay)
        addr = rcpt.get("contractAddress")
        return TxReceipt(
            tx_hash=tx_hash,
            block_number=int(rcpt["blockNumber"]),
            gas_used=int(rcpt["gasUsed"]),
            contract_address=to_checksum_address(addr) if addr else None,
            logs=list(rcpt["logs"]),
            raw=rcpt,
        )

    def _failure(self, tx_hash: str, rcpt: Any, replay: dict[str, Any] | None) -> ContractRevert:
        tx = replay or {}
        if not tx:
            onchain = self.w3.eth.get_transaction(HexBytes(tx_hash))
            tx = {"from": onchain["from"], "to": onchain.get("to"), "data": onchain["input"],
                  "value": onchain["value"], "gas": onchain["gas"]}
        try:
            self.w3.eth.call(tx, int(rcpt["blockNumber"]) - 1)  # type: ignore[arg-type]
        except Exception as exc:
            revert = to_revert(exc, self.decoder, tx_hash)
            if revert is not None:
                return revert
        if int(rcpt["gasUsed"]) >= int(tx.get("gas") or 0) > 0:
            return revert_class("OutOfGas")(
                "OutOfGas", {"gas": int(tx["gas"])}, f"transaction {tx_hash} ran out of gas", tx_hash
            )
        return self.decoder.decode(b"", tx_hash)

    def send(self, to: str | None, data: bytes | str = b"", value: int = 0,
             gas: int | None = None) -> TxReceipt:
        tx_hash = self.send_raw(to, data, value, gas)
        return self.wait(tx_hash, {"from": self.address, "to": to, "data": HexBytes(data),
                                   "value": value})

    def transact(self, fn: Any, value: int = 0, gas: int | None = None) -> TxReceipt:
        """Send a web3 ContractFunction (e.g. `token.functions.confirm(slot)`)."""
        data = fn.data if isinstance(fn, ContractCall) else fn._encode_transaction_data()
        return self.send(fn.address, data, value, gas)

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any,
               gas: int | None = None) -> TxReceipt:
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        data = factory.constructor(*args).data_in_transaction
        rcpt = self.send(None, data, 0, gas)
        if not rcpt.contract_address:
            raise ChainError(f"deployment {rcpt.tx_hash} created no contract")
        return rcpt

    def call(self, fn: Any) -> Any:
        """Run a view function, turning a revert into its typed exception."""
        try:
            return fn.call({"from": self.address})
        except Exception as exc:
            revert = to_revert(exc, self.decoder)
            if revert is not None:
                raise revert from None
            raise
