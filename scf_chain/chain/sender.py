"""Sign transactions locally, keep nonces without round trips, wait for receipts, type reverts."""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_account._utils.signing import sign_transaction_dict
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from scf_chain.chain.base import ChainBackend, http_transport, raw_request
from scf_chain.chain.codec import ContractCall, checksum
from scf_chain.chain.reverts import ErrorDecoder, default_decoder, revert_class, to_revert
from scf_chain.chain.signing import FastSigner
from scf_chain.errors import ChainError, ContractRevert, InsufficientGas, TransactionTimeout
from scf_chain.obs import metrics as obs_metrics

log = logging.getLogger(__name__)

DEFAULT_RECEIPT_TIMEOUT_S = 120.0
FEE_CACHE_S = 2.0
GAS_HEADROOM = 1.25
# how often the receipt watcher asks the node for its head while transactions are waiting
HEAD_POLL_S = 0.02
# a transaction not mined after this long is looked at (gaps below it, dropped, fee too low)
STUCK_S = 30.0
REPLACE_BUMP = 1.25  # fee factor of a replacement (nodes ask for at least +10 %)
REMEMBERED_TXS = 4096


@dataclass(frozen=True)
class TxReceipt:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    contract_address: str | None
    logs: list[Any] = field(repr=False)
    raw: Any = field(repr=False)


def _int(value: Any) -> int:
    """A quantity from a JSON-RPC node (0x-hex) or from eth-tester (int)."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _hash_hex(value: Any) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction about to be broadcast."""

    sender: str
    nonce: int
    tx_hash: str
    raw: bytes = field(repr=False)
    call_hash: str


def call_hash(sender: str, to: str | None, value: int, data: bytes | str) -> str:
    """What a transaction does, without nonce, gas and fees: sender, recipient, value and data."""
    return "0x" + keccak(bytes(HexBytes(sender)) + (bytes(HexBytes(to)) if to else b"\0" * 20)
                         + int(value).to_bytes(32, "big") + bytes(HexBytes(data))).hex()


class TxJournal(Protocol):
    """Where the transactions of one unit of work (an idempotent request) are written down
    before they leave the process, so that a crash or an error after a broadcast can be resolved
    from the chain instead of sending again. Installed with `journaling`; every `TxSender` in
    the same context calls it, without the layers between knowing."""

    def match(self, sender: str, call_hash: str) -> str | None:
        """On a replay, the hash of the journaled transaction this send is (the sender waits
        for it instead of signing anew); None to send. May raise to refuse the send."""

    def record(self, tx: SignedTx) -> None:
        """Persist `tx` before it is broadcast; raising stops the broadcast."""

    def refused(self, tx: SignedTx) -> None:
        """The node refused `tx` for certain (it never happened). Must not raise."""

    def read_block(self) -> int | str:
        """The block views are read at ('latest', or the state a replayed send saw)."""


class NonceHold(Protocol):
    """One account's next nonce, held (locked) while a transaction is signed and broadcast."""

    next: int | None  # None: read it from the node

    def store(self, nonce: int | None) -> None:
        """The next nonce after this hold (None: read it from the node next time)."""


class SharedNonces(Protocol):
    """Nonces kept outside the process, for accounts several processes send for
    (`scf_chain.platform.nonces.StoreNonces`)."""

    def hold(self, account: str) -> AbstractContextManager[NonceHold]:
        """Lock `account`'s nonce until the block ends; what it stores is kept."""

    def forget(self, account: str) -> None:
        """Read `account`'s nonce from the node at its next send."""


class _LocalNonce:
    """A sender's nonce in memory (one process sends for the account), as a `NonceHold`."""

    def __init__(self, sender: TxSender) -> None:
        self.sender = sender
        self.next = sender._nonce

    def store(self, nonce: int | None) -> None:
        self.next = self.sender._nonce = nonce


_journal: ContextVar[TxJournal | None] = ContextVar("scf_tx_journal", default=None)


@contextmanager
def journaling(journal: TxJournal) -> Iterator[TxJournal]:
    """Journal every transaction signed in this context (thread and task) through `journal`."""
    token = _journal.set(journal)
    try:
        yield journal
    finally:
        _journal.reset(token)


def current_journal() -> TxJournal | None:
    return _journal.get()


def broadcast_signed(chain: ChainBackend, tx: SignedTx) -> str:
    """Send an already signed transaction again (recovery: the node may never have seen it, or
    dropped it); senders of its account skip its nonce. Raises what the node answers (already
    known, nonce too low) for the caller to judge."""
    senders = [h for h in list(chain._nonce_holders)
               if isinstance(h, TxSender) and h.address.lower() == tx.sender.lower()]
    if not senders:
        return _hash_hex(raw_request(chain.w3, "eth_sendRawTransaction", ["0x" + tx.raw.hex()]))
    # under the account's nonce hold: no send signs this nonce meanwhile
    with senders[0]._hold() as hold:
        tx_hash = _hash_hex(raw_request(chain.w3, "eth_sendRawTransaction",
                                        ["0x" + tx.raw.hex()]))
        if hold.next is not None and hold.next <= tx.nonce:
            hold.store(tx.nonce + 1)
        for sender in senders[1:]:
            sender.skip_nonce(tx.nonce)
    return tx_hash


class _Waiter:
    __slots__ = ("event", "receipt", "fresh")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.receipt: Any = None
        self.fresh = True  # not looked up since it started waiting


class ReceiptWatcher:
    """Receipts for every transaction this process waits for, by watching the head once.

    A waiting transaction used to poll its own receipt (with backoff): under interval mining,
    where a block carries hundreds of transactions, that was several round trips per
    transaction per block. Here one thread asks the node for its head every HEAD_POLL_S while
    anything waits; when the head moves it asks for the receipts of all waiting transactions in
    one batched request, and wakes those that were mined. A transaction that starts waiting is
    looked up at the next pass even if the head did not move (it may have been mined before it
    started waiting). The thread ends when nothing waits.
    """

    def __init__(self, chain: ChainBackend) -> None:
        self.chain = chain
        self._lock = threading.Lock()
        self._waiting: dict[str, list[_Waiter]] = {}
        self._thread: threading.Thread | None = None
        self._head: int | None = None

    def wait(self, tx_hash: str | list[str], timeout_s: float) -> Any:
        """The receipt of `tx_hash` (or of the first mined of several: replacements of one
        nonce) once mined, or None after `timeout_s`."""
        hashes = [tx_hash] if isinstance(tx_hash, str) else list(tx_hash)
        waiter = _Waiter()
        with self._lock:
            for h in hashes:
                self._waiting.setdefault(h, []).append(waiter)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="receipts", daemon=True)
                self._thread.start()
        try:
            waiter.event.wait(timeout_s)
        finally:
            with self._lock:
                for h in hashes:
                    left = [w for w in self._waiting.get(h, []) if w is not waiter]
                    if left:
                        self._waiting[h] = left
                    else:
                        self._waiting.pop(h, None)
        return waiter.receipt

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._thread = None
                    return
            try:
                self._pass()
            except Exception:  # the node is unreachable for now: waiters time out if it stays so
                log.debug("receipt watcher pass failed", exc_info=True)
            time.sleep(HEAD_POLL_S)

    def _pass(self) -> None:
        head = _int(raw_request(self.chain.w3, "eth_blockNumber", []))
        moved = head != self._head
        self._head = head
        with self._lock:
            todo = [h for h, ws in self._waiting.items() if moved or any(w.fresh for w in ws)]
            for h in todo:
                for w in self._waiting[h]:
                    w.fresh = False
        if not todo:
            return
        for tx_hash, rcpt in zip(todo, _receipts(self.chain, todo), strict=True):
            if rcpt is None or isinstance(rcpt, Exception) or rcpt.get("blockNumber") is None:
                continue
            with self._lock:
                waiters = list(self._waiting.get(tx_hash, []))
            for w in waiters:
                w.receipt = rcpt
                w.event.set()


def _receipts(chain: ChainBackend, hashes: list[str]) -> list[Any]:
    """Receipts of `hashes` (None: not mined): one batched request over HTTP."""
    transport = http_transport(chain.w3)
    if transport is not None and len(hashes) > 1:
        return transport.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
    return [raw_request(chain.w3, "eth_getTransactionReceipt", [h]) for h in hashes]


_watchers: weakref.WeakKeyDictionary[ChainBackend, ReceiptWatcher] = weakref.WeakKeyDictionary()
# per chain: (when read, the fee fields of a new transaction)
_fees: weakref.WeakKeyDictionary[ChainBackend, tuple[float, dict[str, int]]] = \
    weakref.WeakKeyDictionary()
_fees_lock = threading.Lock()
_watchers_lock = threading.Lock()


def receipt_watcher(chain: ChainBackend) -> ReceiptWatcher:
    """The chain's one receipt watcher in this process."""
    with _watchers_lock:
        watcher = _watchers.get(chain)
        if watcher is None:
            watcher = _watchers[chain] = ReceiptWatcher(chain)
        return watcher


def _is_nonce_error(exc: BaseException) -> bool:
    """The node says the nonce is taken (mined, or held by another pending transaction)."""
    text = str(exc).lower()
    return "replacement transaction underpriced" in text or "nonce too low" in text or "nonce too high" in text or "invalid nonce" in text or (
        "nonce" in text and "expected" in text
    )


def _is_underpriced(exc: BaseException) -> bool:
    """The node refuses a transaction's fee (below the base fee, or the pool's minimum)."""
    text = str(exc).lower()
    return "base fee" in text or "underpriced" in text or "fee too low" in text


def _is_insufficient_funds(exc: BaseException) -> bool:
    """The node's "cannot pay for gas" refusal (geth/anvil: "insufficient funds for gas * price
    + value: have X want Y"; py-evm: "cannot afford txn gas Y with account balance X")."""
    text = str(exc).lower()
    return ("insufficient funds" in text or "cannot afford txn gas" in text
            or "not have enough balance" in text)


def fee_fields(base_fee: int | None, gas_price: Callable[[], int]) -> dict[str, int]:
    """The fee fields of a transaction, by what the node reports, and so its type.

    - blocks without a base fee (before London, and consortium chains that never enabled it):
      a legacy (type 0) transaction at the node's gas price, which may be 0;
    - a base fee of 0 (a zero-fee network on a London or later fork): legacy as well, at the
      node's gas price (0 there), which every client takes, where some refuse type 2;
    - otherwise EIP-1559 (type 2): a 1 gwei tip and room for the base fee to double.
    """
    if base_fee is None or int(base_fee) == 0:
        return {"gasPrice": int(gas_price())}
    tip = 10**9
    return {"maxFeePerGas": int(base_fee) * 2 + tip, "maxPriorityFeePerGas": tip}


class TxSender:
    """One account's transaction pipeline.

    Nonces: read once from the chain ('pending'), then assigned locally under a lock that is held
    from signing until the node accepted the raw transaction, so threads never reuse or skip a
    nonce; a transaction the node refuses gives its nonce back. Reverts are detected before
    sending (gas estimation) whenever possible, so a failing call costs no gas and no nonce; a
    transaction that reverts on chain is replayed with eth_call to recover its error.
    """

    _fast: FastSigner | None = None  # made at the first signature

    def __init__(
        self,
        chain: ChainBackend,
        account: LocalAccount,
        decoder: ErrorDecoder | None = None,
        receipt_timeout_s: float = DEFAULT_RECEIPT_TIMEOUT_S,
        nonces: SharedNonces | None = None,
    ) -> None:
        self.chain = chain
        self.nonces = nonces
        self.w3 = chain.w3
        self.account = account
        self.address = to_checksum_address(account.address)
        self._decoder = decoder
        self.receipt_timeout_s = receipt_timeout_s
        self._lock = threading.Lock()
        self._nonce: int | None = None
        # what this sender broadcast lately (hash -> signed transaction and its fields), so that
        # a transaction stuck or dropped can be sent again or replaced
        self._sent: OrderedDict[str, tuple[SignedTx, dict[str, Any]]] = OrderedDict()
        self._sent_lock = threading.Lock()  # apart from _lock, which a send holds
        self._chain_id = chain.chain_id()
        chain.register_nonce_holder(self)

    def skip_nonce(self, nonce: int) -> None:
        """`nonce` was used outside this sender (a recovered transaction): never hand it out."""
        with self._lock:
            if self._nonce is not None and self._nonce <= nonce:
                self._nonce = nonce + 1

    def close(self) -> None:
        """Stop following the chain's snapshot reverts (the owner, and its store, are going away)."""
        self.chain.unregister_nonce_holder(self)

    def forget_nonce(self) -> None:
        """Re-read the nonce from the chain before the next send (after a snapshot revert)."""
        with self._lock:
            self._nonce = None
            if self.nonces is not None:
                self.nonces.forget(self.address)

    @contextmanager
    def _hold(self) -> Iterator[NonceHold]:
        """The account's next nonce, locked in this process and, with shared nonces, in every
        process (from signing until the node accepted the transaction)."""
        with self._lock:
            with (self.nonces.hold(self.address) if self.nonces is not None
                  else nullcontext(_LocalNonce(self))) as hold:
                yield hold

    @property
    def decoder(self) -> ErrorDecoder:
        if self._decoder is None:
            self._decoder = default_decoder()
        return self._decoder

    # -- fees and nonces ------------------------------------------------------------------------
    def _fee_fields(self) -> dict[str, int]:
        """The fee fields for a new transaction, kept FEE_CACHE_S per chain (every sender of
        the process shares them: a market of thousands of accounts asked the node for its
        latest block on almost every transaction)."""
        now = time.monotonic()
        with _fees_lock:
            cached = _fees.get(self.chain)
        if cached and now - cached[0] < FEE_CACHE_S:
            return cached[1]
        block = self._rpc("eth_getBlockByNumber", ["latest", False])
        base_fee = block.get("baseFeePerGas")
        fields = fee_fields(None if base_fee is None else _int(base_fee),
                            lambda: _int(self._rpc("eth_gasPrice", [])))
        with _fees_lock:
            _fees[self.chain] = (now, fields)
        return fields

    def _forget_fees(self) -> None:
        with _fees_lock:
            _fees.pop(self.chain, None)

    def max_fee_per_gas(self) -> int:
        """The most this sender currently offers to pay per gas (a fee ceiling)."""
        fees = self._fee_fields()
        return int(fees.get("maxFeePerGas", fees.get("gasPrice", 0)))

    def _pending_nonce(self) -> int:
        return _int(self._rpc("eth_getTransactionCount", [self.address, "pending"]))

    def resync_nonce(self) -> int:
        """Forget the kept nonce and read it from the chain (pending) again."""
        with self._hold() as hold:
            nonce = self._pending_nonce()
            hold.store(nonce)
            return nonce

    @property
    def next_nonce(self) -> int | None:
        return self._nonce

    # -- sending ---------------------------------------------------------------------------------
    def _rpc(self, method: str, params: list[Any]) -> Any:
        """A JSON-RPC call without web3's per-method formatters (which checksum, and so keccak,
        every address going out and coming back). Values arrive as the provider gives them:
        hex strings from JSON-RPC nodes, Python ints and bytes from eth-tester."""
        return raw_request(self.w3, method, params)

    @staticmethod
    def _wire_tx(tx: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"from": tx["from"], "data": "0x" + bytes(tx["data"]).hex(),
                               "value": hex(int(tx.get("value") or 0))}
        if tx.get("to"):
            out["to"] = tx["to"]
        if tx.get("gas"):
            out["gas"] = hex(int(tx["gas"]))
        return out

    def estimate_gas(self, tx: dict[str, Any]) -> int:
        try:
            return _int(self._rpc("eth_estimateGas", [self._wire_tx(tx)]))
        except Exception as exc:
            revert = to_revert(exc, self.decoder)
            if revert is not None:
                raise revert from None
            if _is_insufficient_funds(exc):
                raise self._insufficient_gas(exc, None, int(tx.get("value") or 0)) from None
            raise ChainError(f"gas estimation failed: {exc}") from exc

    def _insufficient_gas(self, exc: BaseException, gas: int | None,
                          value: int) -> InsufficientGas:
        """The typed refusal, with what the sender holds and what the transaction needs."""
        try:
            balance = int(self.w3.eth.get_balance(self.address))
        except Exception:  # the refusal matters more than the figures
            balance = 0
        needed = 0
        if gas is not None:
            needed = gas * self.max_fee_per_gas() + value
        else:  # the node's own figure, when it gives one
            m = re.search(r"(?:want|cannot afford txn gas) (\d+)", str(exc))
            needed = int(m.group(1)) if m else 0
        shown = f"needs up to {needed} wei" if needed else "cannot pay for its gas"
        return InsufficientGas(self.address, needed, balance,
                               f"{self.address} holds {balance} wei and {shown} ({exc})")

    def _sign(self, tx: dict[str, Any]) -> bytes:
        """The signed raw transaction: the gateway's two shapes by `FastSigner` (the same bytes
        as eth-account, without its per-call validation), anything else by eth-account's
        signing function (not `sign_transaction`, which re-derives the public key and address
        from the private key on every call)."""
        fields = {k: v for k, v in tx.items() if k != "from"}
        if self._fast is None:
            self._fast = FastSigner(bytes(self.account.key))
        if self._fast.handles(fields):
            return self._fast.sign(fields)
        key_obj = getattr(self.account, "_key_obj", None)
        if key_obj is None:  # pragma: no cover - an eth-account without the attribute
            return bytes(self.account.sign_transaction(fields).raw_transaction)
        _v, _r, _s, encoded = sign_transaction_dict(key_obj, fields)
        return bytes(encoded)

    def send_raw(self, to: str | None, data: bytes | str = b"", value: int = 0,
                 gas: int | None = None) -> str:
        """Sign and broadcast; returns the transaction hash (does not wait).

        Inside `journaling`, the signed transaction is recorded before it is broadcast, and on a
        replay a send the journal already holds returns that transaction's hash instead.
        """
        tx: dict[str, Any] = {"from": self.address, "value": int(value), "data": HexBytes(data),
                              "chainId": self._chain_id}
        if to is not None:
            tx["to"] = checksum(to)
        journal = _journal.get()
        what = ""
        if journal is not None:
            what = call_hash(self.address, to, value, data)
            journaled = journal.match(self.address, what)
            if journaled is not None:
                return journaled
        if gas is None:
            gas = self.chain.send_gas or int(self.estimate_gas(tx) * GAS_HEADROOM) + 10_000
        tx["gas"] = gas
        tx.update(self._fee_fields())
        for attempt in (1, 2):
            with self._hold() as hold:
                nonce = hold.next
                if nonce is None:
                    nonce = self._pending_nonce()
                    hold.store(nonce)  # kept, should the node refuse this transaction
                tx["nonce"] = nonce
                raw = self._sign(tx)
                signed = SignedTx(self.address, nonce, "0x" + keccak(raw).hex(), raw, what)
                if journal is not None:
                    journal.record(signed)  # written down before it can leave the process
                try:
                    tx_hash = self._rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
                except Exception as exc:
                    revert = to_revert(exc, self.decoder)
                    if revert is not None:  # eth-tester executes on submission
                        if journal is not None:
                            journal.refused(signed)
                        raise revert from None
                    if attempt == 1 and _is_nonce_error(exc):
                        if journal is not None:
                            journal.refused(signed)
                        hold.store(None)  # someone else used this account: read it again
                        continue
                    if _is_insufficient_funds(exc):  # refused for certain: it never happened
                        if journal is not None:
                            journal.refused(signed)
                        raise self._insufficient_gas(exc, gas, int(value)) from None
                    # the node may have received it all the same: it stays journaled
                    raise ChainError(f"node refused transaction: {exc}") from exc
                hold.store(nonce + 1)
                self._remember(signed, tx)
                obs_metrics.tx_sent(_hash_hex(tx_hash))
                return _hash_hex(tx_hash)
        raise ChainError("nonce could not be synchronised with the node")  # pragma: no cover

    def wait(self, tx_hash: str, replay: dict[str, Any] | None = None) -> TxReceipt:
        """Wait for the receipt; raise TransactionTimeout, or the typed revert if it failed.

        Asked once at once (a node mining on submission has it already), then from the
        process's receipt watcher, which looks receipts up for all waiting transactions at once.
        """
        rcpt = self._rpc("eth_getTransactionReceipt", [tx_hash])
        if rcpt is None or rcpt.get("blockNumber") is None:
            deadline = time.monotonic() + self.receipt_timeout_s
            hashes = [tx_hash]
            while True:
                left = deadline - time.monotonic()
                rcpt = receipt_watcher(self.chain).wait(hashes, min(STUCK_S, max(left, 0)))
                if rcpt is not None:
                    break
                if left <= STUCK_S:
                    raise TransactionTimeout(
                        f"transaction {tx_hash} not mined within {self.receipt_timeout_s:.0f}s")
                replacement = self.unstick(hashes[-1])
                if replacement is not None:
                    hashes.append(replacement)
            tx_hash = _hash_hex(rcpt.get("transactionHash", tx_hash))
        obs_metrics.tx_receipt(tx_hash, _int(rcpt["status"]) == 1)
        if _int(rcpt["status"]) != 1:
            raise self._failure(tx_hash, rcpt, replay)
        addr = rcpt.get("contractAddress")
        return TxReceipt(
            tx_hash=tx_hash,
            block_number=_int(rcpt["blockNumber"]),
            gas_used=_int(rcpt["gasUsed"]),
            contract_address=checksum(addr) if addr else None,
            logs=list(rcpt["logs"]),
            raw=rcpt,
        )

    def _remember(self, signed: SignedTx, tx: dict[str, Any]) -> None:
        with self._sent_lock:
            self._sent[signed.tx_hash] = (signed, dict(tx))
            while len(self._sent) > REMEMBERED_TXS:
                self._sent.popitem(last=False)

    def unstick(self, tx_hash: str) -> str | None:
        """A transaction of this sender not mined for STUCK_S: make it minable.

        - nonces below it that the node holds no transaction for (dropped, or lost with a
          killed process) are filled with an empty transfer to itself, so the account does not
          stall behind the gap;
        - if the node no longer knows the transaction (dropped from its pool), it is broadcast
          again;
        - if it is next in line and still not mined (its fee is too low for the node), it is
          replaced: the same call at the same nonce with fees raised by REPLACE_BUMP (and to
          what the node asks now), journaled like the original. Returns the replacement's hash.
        """
        with self._sent_lock:
            remembered = self._sent.get(tx_hash)
        if remembered is None:
            return None  # not sent by this process: its own sender deals with it
        signed, tx = remembered
        latest = _int(self._rpc("eth_getTransactionCount", [self.address, "latest"]))
        if latest > signed.nonce:
            return None  # its nonce is used: a receipt (its own or another's) is on its way
        pending = _int(self._rpc("eth_getTransactionCount", [self.address, "pending"]))
        filled = 0
        for gap in range(pending, signed.nonce):  # nonces the node has nothing for
            self._fill(gap)
            filled += 1
        if filled:
            obs_metrics.nonce_gap_filled(filled)
            log.warning("%s: filled nonces %d..%d the node had no transaction for",
                        self.address, pending, signed.nonce - 1)
        if self._rpc("eth_getTransactionByHash", [tx_hash]) is None:
            try:
                self._rpc("eth_sendRawTransaction", ["0x" + signed.raw.hex()])
                obs_metrics.nonce_gap_filled()
                log.warning("%s: the node dropped %s (nonce %d); sent again", self.address,
                            tx_hash, signed.nonce)
            except Exception as exc:  # mined meanwhile, or its nonce taken: the receipt decides
                if _is_underpriced(exc):  # dropped for its fee: sent again with a higher one
                    return self._replace(signed, tx)
                log.info("re-sending %s: %s", tx_hash, exc)
            return None
        if latest < signed.nonce or filled:
            return None  # waits behind nonces now on their way
        return self._replace(signed, tx)

    def _fill(self, nonce: int) -> None:
        fill = {"from": self.address, "to": self.address, "value": 0, "data": b"",
                "gas": 21_000, "nonce": nonce, "chainId": self._chain_id, **self._fee_fields()}
        try:
            self._rpc("eth_sendRawTransaction", ["0x" + self._sign(fill).hex()])
        except Exception as exc:  # its nonce arrived meanwhile
            log.info("filling nonce %d of %s: %s", nonce, self.address, exc)

    def _replace(self, signed: SignedTx, tx: dict[str, Any]) -> str | None:
        self._forget_fees()  # what the node asks now
        now = self._fee_fields()
        bumped = dict(tx)
        for name in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice"):
            if name in tx:
                bumped[name] = max(int(tx[name] * REPLACE_BUMP) + 1, int(now.get(name, 0)))
        raw = self._sign(bumped)
        new = SignedTx(self.address, signed.nonce, "0x" + keccak(raw).hex(), raw,
                       signed.call_hash)
        journal = _journal.get()
        if journal is not None:
            journal.record(new)  # the replacement may be mined instead: written down first
        try:
            self._rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
        except Exception as exc:  # the original was mined meanwhile, or the node wants more
            if journal is not None:
                journal.refused(new)
            log.info("replacing %s: %s", signed.tx_hash, exc)
            return None
        self._remember(new, bumped)
        obs_metrics.tx_sent(new.tx_hash)
        log.warning("%s: %s stuck at nonce %d; replaced by %s with higher fees", self.address,
                    signed.tx_hash, signed.nonce, new.tx_hash)
        return new.tx_hash

    def _failure(self, tx_hash: str, rcpt: Any, replay: dict[str, Any] | None) -> ContractRevert:
        tx = replay or {}
        if not tx:
            onchain = self.w3.eth.get_transaction(HexBytes(tx_hash))
            tx = {"from": onchain["from"], "to": onchain.get("to"), "data": onchain["input"],
                  "value": onchain["value"], "gas": onchain["gas"]}
        try:
            self.w3.eth.call(tx, _int(rcpt["blockNumber"]) - 1)  # type: ignore[arg-type]
        except Exception as exc:
            revert = to_revert(exc, self.decoder, tx_hash)
            if revert is not None:
                return revert
        if _int(rcpt["gasUsed"]) >= int(tx.get("gas") or 0) > 0:
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
        """Run a view function, turning a revert into its typed exception. A replayed request
        (see `TxJournal.read_block`) reads at the block before its journaled transaction."""
        journal = _journal.get()
        block = journal.read_block() if journal is not None else "latest"
        try:
            return fn.call({"from": self.address}, block)
        except Exception as exc:
            revert = to_revert(exc, self.decoder)
            if revert is not None:
                raise revert from None
            if block == "latest":
                raise
        # a node that no longer keeps that block's state: the latest (a replay that then
        # differs from its journal is failed as diverged, never sent)
        try:
            return fn.call({"from": self.address}, "latest")
        except Exception as exc:
            revert = to_revert(exc, self.decoder)
            if revert is not None:
                raise revert from None
            raise
