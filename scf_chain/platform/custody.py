"""Participants who hold their own keys: the exact unsigned transaction out, the signed one back in.

A participant registered with `custody: external` has an address and no key in the keystore.
Its writes run the same effect as a custodial participant's, in one of two modes:

- preparing: the effect runs (reads, risk gates, cross-checks) up to the participant's first
  transaction, which is built in full (to, data, value, nonce from the node's pending count,
  gas, fees, chain id), stored as a prepared step with an expiry, and returned unsigned
  (`SignatureRequired`). Nothing is signed or sent; a custodial send in this mode is refused.
- submitting: the effect runs again under the request's Idempotency-Key (journal and recovery
  as for a custodial request); the participant's send is matched with the signed transaction
  (same recipient, value and data as the effect wants now, else `prepared_stale`), journaled
  and broadcast instead of signed, and the effect builds its usual answer from the receipt. An
  effect that needs a further transaction of the participant (an allowance, then the payment)
  stops with the next prepared step; the client signs it and submits again, and the request
  resumes from its journal.

Outside these modes a participant's transaction cannot be made: `ExternalSignerRequired`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import rlp
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction as LegacyTransaction
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple
from hexbytes import HexBytes
from sqlalchemy import delete, select

from scf_chain.chain.base import raw_request
from scf_chain.chain.reverts import to_revert
from scf_chain.chain.sender import (
    GAS_HEADROOM,
    SignedTx,
    TxJournal,
    TxSender,
    _hash_hex,
    _is_insufficient_funds,
    _is_nonce_error,
    call_hash,
    current_journal,
)
from scf_chain.db.models import CustodyPrepared, GatewayParticipant
from scf_chain.errors import (
    ChainError,
    CustodyConflict,
    CustodyError,
    CustodyNotFound,
    ExternalSignerRequired,
    SignatureRequired,
)
from scf_chain.obs import metrics as obs_metrics

if TYPE_CHECKING:
    from scf_chain.platform.core import Platform

EXTERNAL, CUSTODIAL = "external", "custodial"
CUSTODY_MODES = (CUSTODIAL, EXTERNAL)


# -- transactions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnsignedTx:
    """A transaction exactly as the participant is to sign it."""

    chain_id: int
    sender: str
    to: str
    data: bytes
    value: int
    nonce: int
    gas: int
    # {"maxFeePerGas", "maxPriorityFeePerGas"} (type 2) or {"gasPrice"} (legacy, type 0)
    fees: dict[str, int]

    @property
    def type(self) -> int:
        return 0 if "gasPrice" in self.fees else 2

    def signable(self) -> dict[str, Any]:
        """The fields as eth-account's `sign_transaction` takes them."""
        tx: dict[str, Any] = {"chainId": self.chain_id, "to": self.to, "data": self.data,
                              "value": self.value, "nonce": self.nonce, "gas": self.gas,
                              **self.fees}
        if self.type == 2:
            tx["type"] = 2
        return tx

    def as_json(self) -> dict[str, Any]:
        """For the API: integers as decimal strings, bytes as 0x-hex, snake_case fee names."""
        out: dict[str, Any] = {"type": self.type, "chain_id": str(self.chain_id),
                               "from": self.sender, "to": self.to,
                               "data": "0x" + self.data.hex(), "value": str(self.value),
                               "nonce": str(self.nonce), "gas": str(self.gas)}
        names = {"gasPrice": "gas_price", "maxFeePerGas": "max_fee_per_gas",
                 "maxPriorityFeePerGas": "max_priority_fee_per_gas"}
        out.update({names[k]: str(v) for k, v in self.fees.items()})
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> UnsignedTx:
        names = {"gas_price": "gasPrice", "max_fee_per_gas": "maxFeePerGas",
                 "max_priority_fee_per_gas": "maxPriorityFeePerGas"}
        return cls(int(d["chain_id"]), d["from"], d["to"], bytes(HexBytes(d["data"])),
                   int(d["value"]), int(d["nonce"]), int(d["gas"]),
                   {names[k]: int(v) for k, v in d.items() if k in names})


@dataclass(frozen=True)
class SignedRaw:
    """A signed transaction as received: its fields, signer and hash."""

    raw: bytes
    tx_hash: str
    signer: str
    tx: UnsignedTx

    @classmethod
    def decode(cls, raw_hex: str) -> SignedRaw:
        try:
            raw = bytes(HexBytes(raw_hex))
            if raw and raw[0] <= 0x7F:  # typed (EIP-2718)
                fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
                if int(fields.get("type", 0)) != 2:
                    raise ValueError(f"transaction type {fields.get('type')} is not supported")
                if fields.get("accessList"):
                    raise ValueError("an access list is not part of a prepared transaction")
                chain_id = int(fields["chainId"])
                fees = {"maxFeePerGas": int(fields["maxFeePerGas"]),
                        "maxPriorityFeePerGas": int(fields["maxPriorityFeePerGas"])}
            else:
                fields = rlp.decode(raw, LegacyTransaction).as_dict()
                v = int(fields["v"])
                if v < 35:
                    raise ValueError("a legacy transaction without a chain id (EIP-155) could "
                                     "be replayed on any chain")
                chain_id = (v - 35) // 2
                fees = {"gasPrice": int(fields["gasPrice"])}
            signer = to_checksum_address(Account.recover_transaction(raw))
            to = fields.get("to")
            if not to:
                raise ValueError("a contract creation is never a prepared transaction")
            tx = UnsignedTx(chain_id, signer, to_checksum_address(bytes(HexBytes(to))),
                            bytes(HexBytes(fields["data"])), int(fields["value"]),
                            int(fields["nonce"]), int(fields["gas"]), fees)
        except CustodyError:
            raise
        except Exception as exc:
            raise CustodyError("transaction_invalid",
                               f"signed_transaction is not a signed Ethereum transaction: {exc}"
                               ) from None
        return cls(raw, "0x" + keccak(raw).hex(), signer, tx)


# -- what a transaction does, in words ---------------------------------------------------------------
SUMMARIES: dict[str, tuple[str, str]] = {
    # function name: (English, Chinese); {name} placeholders are the call's arguments
    "approve": ("Allow {spender} to pull up to {value} (smallest units) of settlement token "
                "{contract_address}: this request's payment plus what is reserved for your "
                "authorized collections",
                "授权 {spender} 从结算代币 {contract_address} 扣划至多 {value}（最小单位）：本次付款"
                "加上已授权自动扣款的预留额度"),
    "acceptOffer": ("Accept financing offer {offerId}: pay its price and receive the escrowed "
                    "receivable value in the same transaction (delivery versus payment)",
                    "接受融资要约 {offerId}：在同一笔交易中支付对价并取得托管的应收账款价值（券款对付）"),
    "offer": ("Offer {value} of token {tokenId} to financier {financier} for {price} "
              "(escrowed until {expiry}, registration {registrationRef})",
              "将代币 {tokenId} 中的 {value} 以 {price} 的价格向资金方 {financier} 发起融资要约"
              "（托管至 {expiry}，登记号 {registrationRef}）"),
    "cancelOffer": ("Cancel financing offer {offerId}; the escrowed value returns to you",
                    "撤销融资要约 {offerId}，托管价值退回"),
    "applyFor": ("Apply for a receivable of {faceValue} owed by {debtor}, maturing at {maturity}, "
                 "backed by invoice {invoiceKey} under evidence root {evidenceRoot}",
                 "申请确权：债务人 {debtor} 应付 {faceValue}，到期日 {maturity}，发票 {invoiceKey}，"
                 "证据根 {evidenceRoot}"),
    "confirm": ("Confirm receivable {slot}: you owe its face value at maturity",
                "确认应收账款 {slot}：到期支付其面值"),
    "reject": ("Reject receivable {slot} (reason {reasonCode})",
               "拒绝应收账款 {slot}（原因 {reasonCode}）"),
    "withdraw": ("Withdraw your application for receivable {slot}", "撤回应收账款 {slot} 的申请"),
    "transferFrom": ("Move value between receivable tokens: {args}",
                     "应收账款代币价值转移（拆分/合并/转让）：{args}"),
    "repay": ("Repay {amount} towards receivable {slot}", "向应收账款 {slot} 还款 {amount}"),
    "authorizeCollection": ("Set automatic collection of receivable {slot} at maturity to "
                            "{enabled}", "设置应收账款 {slot} 到期自动扣款：{enabled}"),
    "redeemBatch": ("Pay the holders of tokens {tokenIds} what is due to them",
                    "向代币 {tokenIds} 的持有人兑付到期款项"),
    "anchor": ("Anchor evidence root {root} ({count} documents of type {docType})",
               "锚定证据根 {root}（{count} 份类型 {docType} 的单据）"),
}


def _shown(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    return str(value)


def describe(platform: Platform, tx: UnsignedTx) -> tuple[dict[str, Any], dict[str, str]]:
    """The call decoded by the target contract's ABI, and a summary in English and Chinese."""
    from scf_chain.contracts import artifacts

    m = platform.manifest
    contracts = {m.receivable_token.lower(): "ReceivableToken",
                 m.evidence_registry.lower(): "EvidenceRegistry"}
    contracts.update({t.lower(): "TestSettlementToken" for t in m.settlement_tokens})
    name = contracts.get(tx.to.lower())
    call: dict[str, Any] = {"contract": name or "unknown", "address": tx.to}
    if name is None or len(tx.data) < 4:
        text = f"call {tx.to} with {len(tx.data)} bytes of data"
        return call, {"en": text, "zh-CN": f"调用 {tx.to}（数据 {len(tx.data)} 字节）"}
    for item in artifacts.load(name).abi:
        if item.get("type") != "function":
            continue
        types = [collapse_if_tuple(i) for i in item.get("inputs", [])]
        sig = f"{item['name']}({','.join(types)})"
        if keccak(text=sig)[:4] == tx.data[:4]:
            values = abi_decode(types, tx.data[4:])
            args = {i["name"] or f"arg{n}": to_checksum_address(v) if t == "address"
                    else _shown(v)
                    for n, (i, t, v) in enumerate(zip(item["inputs"], types, values,
                                                      strict=True))}
            call.update(function=item["name"], signature=sig, args=args)
            en, zh = SUMMARIES.get(item["name"], ("{function}({args}) on {contract}",
                                                  "在 {contract} 上调用 {function}({args})"))
            fill = {**args, "args": ", ".join(f"{k}={v}" for k, v in args.items()),
                    "function": item["name"], "contract": name, "contract_address": tx.to}
            return call, {"en": en.format_map(_Missing(fill)),
                          "zh-CN": zh.format_map(_Missing(fill))}
    return call, {"en": f"unknown function of {name}", "zh-CN": f"{name} 的未知函数"}


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


# -- the prepared steps -----------------------------------------------------------------------------
def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def step_body(platform: Platform, row: CustodyPrepared, submitted: list[str] | None = None
              ) -> dict[str, Any]:
    tx = UnsignedTx.from_json(row.tx)
    call, summary = describe(platform, tx)
    body: dict[str, Any] = {
        "prepared_id": row.id, "request_id": row.request_id, "step": row.step,
        "participant": row.participant, "route": row.path, "transaction": tx.as_json(),
        "call": call, "summary": summary, "expires_at": int(row.expires_at),
        "submit": "/custody/submit"}
    if submitted is not None:
        body["submitted"] = submitted
    return body


@dataclass
class Signing:
    """One external participant's request in preparing or submitting mode."""

    platform: Platform
    participant: GatewayParticipant
    path: str
    body: bytes
    request_id: str
    signed: SignedRaw | None = None  # submitting: the transaction the client signed
    position: int = 0  # the participant's sends so far in this run
    used: bool = False
    matched: set[str] = field(default_factory=set)  # hashes a replay took from the journal

    @property
    def preparing(self) -> bool:
        return self.signed is None

    @property
    def address(self) -> str:
        return to_checksum_address(self.participant.address)

    def build(self, sender: ExternalSender, to: str, data: bytes, value: int,
              gas: int | None) -> UnsignedTx:
        """The full transaction, from the node: gas estimated (a revert raises its typed error
        here, before anything is signed), fees, and the account's pending nonce."""
        tx: dict[str, Any] = {"from": self.address, "to": to_checksum_address(to),
                              "data": HexBytes(data), "value": int(value)}
        if gas is None:
            gas = int(sender.estimate_gas(tx) * GAS_HEADROOM) + 10_000
        nonce = int(sender.w3.eth.get_transaction_count(sender.address, "pending"))
        return UnsignedTx(sender.chain_id, self.address, to_checksum_address(to), bytes(data),
                          int(value), nonce, gas, dict(sender._fee_fields()))

    def stop_for_signature(self, sender: ExternalSender, to: str, data: bytes, value: int,
                           gas: int | None, what: str) -> SignatureRequired:
        """Store the step at this position (an identical unexpired one is reused) and stop."""
        tx = self.build(sender, to, data, value, gas)
        now = time.time()
        ttl = self.platform.settings.custody_prepared_ttl_s
        with self.platform.sessions() as s:
            row = s.scalars(select(CustodyPrepared).where(
                CustodyPrepared.request_id == self.request_id,
                CustodyPrepared.step == self.position)).first()
            if (row is None or row.expires_at < now or row.call_hash != what
                    or UnsignedTx.from_json(row.tx).nonce != tx.nonce):
                if row is None:
                    row = CustodyPrepared(request_id=self.request_id, step=self.position,
                                          participant=self.participant.name, path=self.path,
                                          body=self.body.decode())
                    s.add(row)
                row.id = _new_id("ptx")
                row.sender = self.address
                row.tx = tx.as_json()
                row.call_hash = what
                row.created_at, row.expires_at = now, now + ttl
                row.tx_hash = None
                s.commit()
            s.refresh(row)
            submitted = [] if self.preparing else list(s.scalars(
                select(CustodyPrepared.tx_hash).where(
                    CustodyPrepared.request_id == self.request_id,
                    CustodyPrepared.step < self.position,
                    CustodyPrepared.tx_hash.is_not(None)).order_by(CustodyPrepared.step)))
            body = step_body(self.platform, row, None if self.preparing else
                             [h for h in submitted if h])
        return SignatureRequired(body, self.preparing)

    def send(self, sender: ExternalSender, to: str, data: bytes, value: int, gas: int | None,
             what: str, journal: TxJournal | None) -> str:
        signed = self.signed
        if signed is None or self.used or signed.tx_hash in self.matched:
            raise self.stop_for_signature(sender, to, data, value, gas, what)
        wanted = (to_checksum_address(to), int(value), bytes(data))
        if (signed.tx.to, signed.tx.value, signed.tx.data) != wanted:
            raise CustodyConflict(
                "prepared_stale", "the request now needs a different transaction than the one "
                "signed (what it reads changed since it was prepared): nothing was sent; "
                "prepare it again")
        latest = int(sender.w3.eth.get_transaction_count(sender.address, "latest"))
        if signed.tx.nonce < latest:
            raise self._nonce_moved_on(signed.tx.nonce, latest)
        tx = SignedTx(self.address, signed.tx.nonce, signed.tx_hash, signed.raw, what)
        if journal is not None:
            journal.record(tx)  # written down before it can leave the process
        try:
            tx_hash = _hash_hex(raw_request(sender.w3, "eth_sendRawTransaction",
                                            ["0x" + signed.raw.hex()]))
        except Exception as exc:
            revert = to_revert(exc, sender.decoder)
            refused = revert is not None or _is_nonce_error(exc) or _is_insufficient_funds(exc)
            if refused and journal is not None:
                journal.refused(tx)
            if revert is not None:  # eth-tester executes on submission
                raise revert from None
            if _is_nonce_error(exc):
                raise self._nonce_moved_on(signed.tx.nonce, None) from None
            if _is_insufficient_funds(exc):
                raise sender._insufficient_gas(exc, signed.tx.gas, signed.tx.value) from None
            # the node may have received it all the same: it stays journaled
            raise ChainError(f"node refused transaction: {exc}") from exc
        self.used = True
        obs_metrics.tx_sent(tx_hash)
        return tx_hash

    def _nonce_moved_on(self, nonce: int, latest: int | None) -> CustodyConflict:
        now = f" (the account's next nonce is {latest})" if latest is not None else ""
        return CustodyConflict(
            "nonce_moved_on", f"{self.address} has used nonce {nonce} for another transaction"
            f"{now}: this one can never be mined and was not sent; prepare the request again",
            nonce=str(nonce))


_active: ContextVar[Signing | None] = ContextVar("scf_custody_signing", default=None)


@contextmanager
def signing(ctx: Signing) -> Iterator[Signing]:
    """Run an effect with `ctx`'s participant signing itself (preparing or submitting)."""
    token = _active.set(ctx)
    try:
        yield ctx
    finally:
        _active.reset(token)


class _NoSends:
    """The journal of a prepare: no transaction may be signed while preparing."""

    def match(self, sender: str, call_hash: str) -> str | None:
        raise CustodyConflict("prepare_would_send",
                              f"preparing this request would make {sender} send a transaction "
                              "first; it cannot be prepared")

    def record(self, tx: SignedTx) -> None:  # pragma: no cover - match refuses first
        raise AssertionError("no transaction is recorded while preparing")

    def refused(self, tx: SignedTx) -> None:  # pragma: no cover
        pass

    def read_block(self) -> int | str:
        return "latest"


def prepare(ctx: Signing, effect: Any) -> dict[str, Any]:
    """Run `effect` up to the participant's first transaction; that transaction, prepared."""
    from scf_chain.chain.sender import journaling

    assert ctx.preparing
    with journaling(_NoSends()), signing(ctx):
        try:
            effect()
        except SignatureRequired as need:
            return need.body
    raise CustodyConflict("nothing_to_sign", "this request made no transaction of "
                          f"{ctx.participant.name}'s: send it to the route itself")


class _ExternalAddress:
    """Stands where a TxSender expects an account: an address without a key."""

    def __init__(self, address: str) -> None:
        self.address = address


class ExternalSender(TxSender):
    """The transaction pipeline of an account whose key is elsewhere: views, gas estimation and
    receipts as for any account; a send happens only in a `signing` context for this account."""

    def __init__(self, platform: Platform, participant: GatewayParticipant) -> None:
        super().__init__(platform.chain, cast(LocalAccount, _ExternalAddress(
            to_checksum_address(participant.address))),
            receipt_timeout_s=platform.settings.receipt_timeout_s)
        self.participant_name = participant.name

    @property
    def chain_id(self) -> int:
        return int(self._chain_id)

    def _sign(self, tx: dict[str, Any]) -> bytes:
        raise ExternalSignerRequired(self.participant_name)

    def send_raw(self, to: str | None, data: bytes | str = b"", value: int = 0,
                 gas: int | None = None) -> str:
        ctx = _active.get()
        if ctx is None or ctx.address.lower() != self.address.lower() or to is None:
            raise ExternalSignerRequired(self.participant_name)
        raw_data = bytes(HexBytes(data))
        what = call_hash(self.address, to, value, raw_data)
        journal = current_journal()
        try:
            if journal is not None and not ctx.preparing:
                journaled = journal.match(self.address, what)
                if journaled is not None:  # a resumed request: this step was sent already
                    ctx.matched.add(journaled.lower())
                    return journaled
            return ctx.send(self, to, raw_data, value, gas, what,
                            None if ctx.preparing else journal)
        finally:
            ctx.position += 1


def external_sender(platform: Platform, participant: GatewayParticipant) -> ExternalSender:
    """The participant's one sender (kept on the platform: the chain holds senders weakly)."""
    key = participant.address.lower()
    sender = platform.external_senders.get(key)
    if sender is None:
        sender = platform.external_senders.setdefault(key, ExternalSender(platform, participant))
    return sender


# -- submitting -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Submission:
    """A signed transaction checked against its prepared step, ready to run the request."""

    step: CustodyPrepared
    signed: SignedRaw
    idempotency_key: str


def submission(platform: Platform, participant: GatewayParticipant, prepared_id: str,
               signed_hex: str) -> Submission:
    """Check a signed transaction against the step it answers: the participant's, signed by its
    address on this chain, and exactly the prepared fields; not expired (unless this very
    transaction was submitted before: then the request's answer is replayed)."""
    if participant.custody != EXTERNAL:
        raise CustodyConflict("not_external", f"{participant.name}'s key is held by the "
                              "gateway: send requests to the routes themselves")
    with platform.sessions() as s:
        step = s.get(CustodyPrepared, prepared_id)
    if step is None or step.participant != participant.name:
        raise CustodyNotFound("prepared_not_found", f"no prepared transaction {prepared_id!r}")
    signed = SignedRaw.decode(signed_hex)
    expected = UnsignedTx.from_json(step.tx)
    if signed.signer.lower() != participant.address.lower():
        raise CustodyError("wrong_signer", f"the transaction is signed by {signed.signer}, not "
                           f"by {participant.name} ({to_checksum_address(participant.address)})",
                           signer=signed.signer)
    differ = [k for k, a, b in (
        ("chain_id", signed.tx.chain_id, expected.chain_id), ("to", signed.tx.to, expected.to),
        ("data", signed.tx.data, expected.data), ("value", signed.tx.value, expected.value),
        ("nonce", signed.tx.nonce, expected.nonce), ("gas", signed.tx.gas, expected.gas),
        ("fees", signed.tx.fees, expected.fees)) if a != b]
    if differ:
        raise CustodyError("transaction_tampered", "the signed transaction is not the one "
                           f"prepared: {', '.join(differ)} differ; sign the prepared "
                           "transaction as it is", fields=differ)
    if step.tx_hash != signed.tx_hash:
        if step.expires_at < time.time():
            raise CustodyConflict("prepared_expired", f"prepared transaction {prepared_id} "
                                  "expired; prepare the request again")
        with platform.sessions() as s:
            row = s.get(CustodyPrepared, prepared_id)
            assert row is not None
            row.tx_hash = signed.tx_hash
            s.commit()
            s.refresh(row)
            step = row
    return Submission(step, signed, f"custody-{step.request_id}")


def purge(platform: Platform, now: float | None = None) -> int:
    """Delete prepared steps that expired longer ago than answers are kept."""
    cutoff = (time.time() if now is None else now) - platform.settings.idempotency_ttl_s
    with platform.sessions() as s:
        n = int(s.execute(delete(CustodyPrepared).where(  # type: ignore[attr-defined]
            CustodyPrepared.expires_at < cutoff)).rowcount)
        s.commit()
    return n


def new_request_id() -> str:
    return _new_id("prq")
