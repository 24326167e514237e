"""Typed clients for every contract operation: one account signs, results carry decoded events.

A client is bound to a deployed contract and to the `TxSender` of the account acting; `as_(s)`
gives the same client acting as someone else. Writes return typed results (`scf_chain.clients
.results`); a contract error arrives as the exception named after the Solidity error
(`scf_chain.chain.reverts.NotDebtor`, ...), raised before any gas is spent when gas estimation
already shows the revert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self, TypeVar

from hexbytes import HexBytes

from scf_chain.chain.codec import AbiContract, checksum
from scf_chain.chain.sender import TxReceipt, TxSender
from scf_chain.clients.results import (
    Anchored,
    Applied,
    Confirmed,
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
from scf_chain.contracts import artifacts
from scf_chain.contracts.events import DecodedEvent, default_event_decoder
from scf_chain.errors import ChainError

C = TypeVar("C", bound="_Client")
ZERO32 = "0x" + "00" * 32


def _b32(value: bytes | str) -> bytes:
    raw = bytes(HexBytes(value))
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def struct_fields(abi: Sequence[dict[str, Any]], function: str,
                  value: Sequence[Any]) -> dict[str, Any]:
    """A struct returned by `function` as a dict keyed by the ABI's component names.

    The contract's structs are packed for gas and get reordered; reading them by name keeps a
    reorder from scrambling fields. A struct whose shape differs from the ABI raises.
    """
    for item in abi:
        if item.get("type") == "function" and item.get("name") == function:
            outputs = item.get("outputs", [])
            if len(outputs) == 1 and "components" in outputs[0]:
                names = [c["name"] for c in outputs[0]["components"]]
                if len(names) != len(value) or not all(names):
                    raise ChainError(f"{function} returned {len(value)} fields, its ABI names "
                                     f"{len(names)}")
                return dict(zip(names, value, strict=True))
    raise ChainError(f"the ABI has no function {function} returning one struct")


def decode_offer(abi: Sequence[dict[str, Any]], offer_id: int, value: Sequence[Any]) -> Offer:
    """`getOffer`'s struct as an Offer, by component name."""
    o = struct_fields(abi, "getOffer", value)
    return Offer(offer_id, str(o["holder"]), str(o["financier"]), int(o["sourceTokenId"]),
                 int(o["escrowTokenId"]), int(o["value"]), int(o["price"]), int(o["expiry"]),
                 OfferStatus(int(o["status"])), _hex(o["registrationRef"]))


def decode_receivable(abi: Sequence[dict[str, Any]], slot: int, value: Sequence[Any],
                      status: ReceivableState) -> Receivable:
    """`getReceivable`'s struct as a Receivable, by component name (`status` is `statusOf`'s,
    which also knows a slot has matured)."""
    r = struct_fields(abi, "getReceivable", value)
    return Receivable(
        slot=slot, debtor=str(r["debtor"]), maturity=int(r["maturity"]),
        initiated_by_debtor=bool(r["initiatedByDebtor"]), issued_at=int(r["issuedAt"]),
        creditor=str(r["creditor"]), face_value=int(r["faceValue"]),
        settlement_token=str(r["settlementToken"]), collect_enabled=bool(r["collectEnabled"]),
        invoice_key=_hex(r["invoiceKey"]), invoice_leaf=_hex(r["invoiceLeaf"]),
        evidence_root=_hex(r["evidenceRoot"]), repaid=int(r["repaid"]),
        paid_out=int(r["paidOut"]), status=status)


class _Client:
    contract_name: str = ""

    def __init__(self, sender: TxSender, address: str) -> None:
        self.sender = sender
        self.address = checksum(address)
        self.contract = AbiContract(sender.w3, self.address,
                                    artifacts.load(self.contract_name).abi)

    def as_(self, sender: TxSender) -> Self:
        """The same client, acting as `sender`'s account."""
        return type(self)(sender, self.address)

    @property
    def account(self) -> str:
        return self.sender.address

    def _send(self, fn: Any, gas: int | None = None) -> TxResult:
        rcpt: TxReceipt = self.sender.transact(fn, gas=gas)
        return TxResult(rcpt.tx_hash, rcpt.block_number, rcpt.gas_used,
                        default_event_decoder().decode_all(rcpt.logs))

    def _call(self, fn: Any) -> Any:
        return self.sender.call(fn)

    @staticmethod
    def _one(tx: TxResult, name: str) -> DecodedEvent:
        found = tx.named(name)
        if not found:
            raise ChainError(f"transaction {tx.tx_hash} emitted no {name} event")
        return found[0]


class ReceivableTokenClient(_Client):
    """ReceivableToken: registry, issuance, value moves, financing, repayment, redemption."""

    contract_name = "ReceivableToken"

    # -- participants and policy (operator) -------------------------------------------------------
    def set_roles(self, account: str, roles: Role | int) -> TxResult:
        return self._send(self.contract.functions.setRoles(checksum(account), int(roles)))

    def roles_of(self, account: str) -> Role:
        return Role(int(self._call(self.contract.functions.rolesOf(checksum(account)))))

    def set_policy(self, min_unit: int, max_tenor: int, split_allowed: bool,
                   transfer_allowed: bool) -> TxResult:
        return self._send(self.contract.functions.setPolicy(min_unit, max_tenor, split_allowed,
                                                             transfer_allowed))

    def policy(self) -> Policy:
        m, t, s, tr = self._call(self.contract.functions.policy())
        return Policy(int(m), int(t), bool(s), bool(tr))

    def set_credit_limit(self, debtor: str, limit: int) -> TxResult:
        return self._send(self.contract.functions.setCreditLimit(checksum(debtor), limit))

    def credit_limit_of(self, debtor: str) -> int:
        return int(self._call(self.contract.functions.creditLimitOf(checksum(debtor))))

    def outstanding_of(self, debtor: str) -> int:
        return int(self._call(self.contract.functions.outstandingOf(checksum(debtor))))

    def set_settlement_token(self, token: str, allowed: bool) -> TxResult:
        return self._send(self.contract.functions.setSettlementToken(checksum(token),
                                                                      allowed))

    def operator(self) -> str:
        # read without a sender: the caller may be a drained, rotated-out operator key, and some
        # nodes (eth-tester) refuse a call from an account that cannot pay its gas
        return checksum(self.contract.functions.operator().call())

    def pending_operator(self) -> str:
        return checksum(self._call(self.contract.functions.pendingOperator()))

    def transfer_operator(self, new_operator: str) -> TxResult:
        """Start handing the operator role to `new_operator` (it must `accept_operator`)."""
        return self._send(self.contract.functions.transferOperator(checksum(new_operator)))

    def accept_operator(self) -> TxResult:
        return self._send(self.contract.functions.acceptOperator())

    # -- a debtor's new key (key rotation) --------------------------------------------------------
    def offer_debtor_move(self, successor: str) -> TxResult:
        """As the debtor: name the address the operator may move its receivables to."""
        return self._send(self.contract.functions.offerDebtorMove(checksum(successor)))

    def debtor_successor_of(self, debtor: str) -> str:
        return checksum(self._call(self.contract.functions.debtorSuccessorOf(checksum(debtor))))

    def move_debts(self, debtor: str, slots: Sequence[int]) -> TxResult:
        """As the operator: move `slots` of `debtor` to the successor it named."""
        return self._send(self.contract.functions.moveDebts(checksum(debtor), list(slots)))

    def pause(self) -> TxResult:
        return self._send(self.contract.functions.pause())

    def unpause(self) -> TxResult:
        return self._send(self.contract.functions.unpause())

    def paused(self) -> bool:
        return bool(self._call(self.contract.functions.paused()))

    # -- issuance -----------------------------------------------------------------------------------
    def _issuance_args(self, debtor: str, creditor: str, face_value: int, settlement_token: str,
                       maturity: int, invoice_key: bytes | str, fields_root: bytes | str,
                       evidence_root: bytes | str, proof: Sequence[bytes | str]) -> tuple[Any, ...]:
        return (checksum(debtor), checksum(creditor), int(face_value),
                checksum(settlement_token), int(maturity), _b32(invoice_key),
                _b32(fields_root), _b32(evidence_root), [_b32(p) for p in proof])

    def apply_for(self, debtor: str, creditor: str, face_value: int, settlement_token: str,
                  maturity: int, invoice_key: bytes | str, fields_root: bytes | str,
                  evidence_root: bytes | str, proof: Sequence[bytes | str]) -> Applied:
        """The creditor applies; the debtor must then `confirm` (确权)."""
        tx = self._send(self.contract.functions.applyFor(*self._issuance_args(
            debtor, creditor, face_value, settlement_token, maturity, invoice_key, fields_root,
            evidence_root, proof)))
        ev = self._one(tx, "Applied")
        return Applied(tx, int(ev.args["slot"]), bool(ev.args["initiatedByDebtor"]))

    def issue(self, debtor: str, creditor: str, face_value: int, settlement_token: str,
              maturity: int, invoice_key: bytes | str, fields_root: bytes | str,
              evidence_root: bytes | str, proof: Sequence[bytes | str]) -> Applied:
        """The debtor opens (开立); the creditor must then `confirm` to accept."""
        tx = self._send(self.contract.functions.issue(*self._issuance_args(
            debtor, creditor, face_value, settlement_token, maturity, invoice_key, fields_root,
            evidence_root, proof)))
        ev = self._one(tx, "Applied")
        return Applied(tx, int(ev.args["slot"]), bool(ev.args["initiatedByDebtor"]))

    def confirm(self, slot: int) -> Confirmed:
        tx = self._send(self.contract.functions.confirm(slot))
        ev = self._one(tx, "Confirmed")
        return Confirmed(tx, slot, int(ev.args["tokenId"]), str(ev.args["creditor"]),
                         int(ev.args["faceValue"]))

    def reject(self, slot: int, reason_code: bytes | str = ZERO32) -> TxResult:
        return self._send(self.contract.functions.reject(slot, _b32(reason_code)))

    def withdraw(self, slot: int) -> TxResult:
        return self._send(self.contract.functions.withdraw(slot))

    # -- value moves ------------------------------------------------------------------------------
    def split(self, from_token_id: int, to: str, value: int) -> ValueMoved:
        """Move `value` of a token to `to` (拆分/流转): a new token of the same slot."""
        fn = self.contract.get_function_by_signature("transferFrom(uint256,address,uint256)")
        tx = self._send(fn(from_token_id, checksum(to), value))
        moved = [e for e in tx.named("TransferValue")
                 if int(e.args["_fromTokenId"]) == from_token_id and int(e.args["_toTokenId"]) != 0]
        return ValueMoved(tx, from_token_id, int(moved[-1].args["_toTokenId"]), value)

    def split_many(self, from_token_id: int, to: Sequence[str], values: Sequence[int]) -> SplitMany:
        """Move `values[i]` of a token to `to[i]`, each as a new token of the same slot, in one
        transaction: all parts or none, each under the policy of a single split. The contract
        refuses an empty batch, unequal lengths (`InvalidRecipients`) and more than
        `MAX_BATCH_RECIPIENTS` recipients (`TooManyRecipients`)."""
        tx = self._send(self.contract.functions.splitMany(
            from_token_id, [checksum(a) for a in to], list(values)))
        owners = {int(e.args["tokenId"]): str(e.args["to"]) for e in tx.named("Transfer")}
        parts = tuple(
            SplitPart(owners[int(e.args["_toTokenId"])], int(e.args["_toTokenId"]), int(e.args["_value"]))
            for e in tx.named("TransferValue")
            if int(e.args["_fromTokenId"]) == from_token_id and int(e.args["_toTokenId"]) != 0)
        return SplitMany(tx, from_token_id, parts)

    def merge(self, from_token_id: int, to_token_id: int, value: int) -> ValueMoved:
        fn = self.contract.get_function_by_signature("transferFrom(uint256,uint256,uint256)")
        tx = self._send(fn(from_token_id, to_token_id, value))
        return ValueMoved(tx, from_token_id, to_token_id, value)

    def transfer(self, token_id: int, to: str) -> TokenTransferred:
        """Move a whole token (ERC-721 transfer) to `to`."""
        fn = self.contract.get_function_by_signature("transferFrom(address,address,uint256)")
        tx = self._send(fn(self.account, checksum(to), token_id))
        return TokenTransferred(tx, token_id, self.account, checksum(to))

    def approve_value(self, token_id: int, operator: str, value: int) -> TxResult:
        fn = self.contract.get_function_by_signature("approve(uint256,address,uint256)")
        return self._send(fn(token_id, checksum(operator), value))

    # -- financing ----------------------------------------------------------------------------------
    def offer(self, token_id: int, value: int, financier: str, price: int, expiry: int,
              registration_ref: bytes | str = ZERO32) -> Offered:
        """Offer `value` of a token to a financier for `price` (escrowed until accept/cancel)."""
        tx = self._send(self.contract.functions.offer(token_id, value,
                                                      checksum(financier), price,
                                                      expiry, _b32(registration_ref)))
        ev = self._one(tx, "Offered")
        return Offered(tx, int(ev.args["offerId"]), int(ev.args["slot"]),
                       int(ev.args["escrowTokenId"]), int(ev.args["value"]), int(ev.args["price"]))

    def accept_offer(self, offer_id: int) -> Financed:
        """The financier pays the price and receives the escrowed value (delivery vs payment)."""
        tx = self._send(self.contract.functions.acceptOffer(offer_id))
        ev = self._one(tx, "Financed")
        return Financed(tx, offer_id, int(ev.args["slot"]), str(ev.args["financier"]),
                        str(ev.args["holder"]), int(ev.args["escrowTokenId"]),
                        int(ev.args["value"]), int(ev.args["price"]))

    def cancel_offer(self, offer_id: int) -> OfferCancelled:
        tx = self._send(self.contract.functions.cancelOffer(offer_id))
        ev = self._one(tx, "OfferCancelled")
        return OfferCancelled(tx, offer_id, int(ev.args["returnedToTokenId"]))

    def get_offer(self, offer_id: int) -> Offer:
        o = self._call(self.contract.functions.getOffer(offer_id))
        return decode_offer(artifacts.load(self.contract_name).abi, offer_id, o)

    def offer_count(self) -> int:
        return int(self._call(self.contract.functions.offerCount()))

    # -- repayment and redemption ---------------------------------------------------------------------
    def repay(self, slot: int, amount: int) -> Repaid:
        tx = self._send(self.contract.functions.repay(slot, amount))
        ev = self._one(tx, "Repaid")
        return Repaid(tx, slot, int(ev.args["amount"]), int(ev.args["totalRepaid"]))

    def authorize_collection(self, slot: int, enabled: bool = True) -> TxResult:
        return self._send(self.contract.functions.authorizeCollection(slot, enabled))

    def collect(self, slot: int) -> Repaid:
        """Pull what the debtor owes (up to its allowance and balance) once the slot matured."""
        tx = self._send(self.contract.functions.collect(slot))
        ev = self._one(tx, "Repaid")
        return Repaid(tx, slot, int(ev.args["amount"]), int(ev.args["totalRepaid"]))

    @staticmethod
    def _redemptions(tx: TxResult) -> list[Redemption]:
        return [Redemption(int(e.args["slot"]), int(e.args["tokenId"]), str(e.args["holder"]),
                           int(e.args["amount"]), int(e.args["remainingValue"]))
                for e in tx.named("Redeemed")]

    def redeem(self, token_id: int) -> Redeemed:
        tx = self._send(self.contract.functions.redeem(token_id))
        return Redeemed(tx, self._redemptions(tx))

    def redeem_batch(self, token_ids: Sequence[int], gas: int | None = None) -> Redeemed:
        tx = self._send(self.contract.functions.redeemBatch(list(token_ids)), gas=gas)
        return Redeemed(tx, self._redemptions(tx))

    # -- reads ------------------------------------------------------------------------------------------
    def get_receivable(self, slot: int) -> Receivable:
        r = self._call(self.contract.functions.getReceivable(slot))
        return decode_receivable(artifacts.load(self.contract_name).abi, slot, r,
                                 self.status_of(slot))

    def status_of(self, slot: int) -> ReceivableState:
        return ReceivableState(int(self._call(self.contract.functions.statusOf(slot))))

    def slot_count(self) -> int:
        return int(self._call(self.contract.functions.slotCount()))

    def value_of(self, token_id: int) -> int:
        fn = self.contract.get_function_by_signature("balanceOf(uint256)")
        return int(self._call(fn(token_id)))

    def owner_of(self, token_id: int) -> str:
        return str(self._call(self.contract.functions.ownerOf(token_id)))

    def slot_of(self, token_id: int) -> int:
        return int(self._call(self.contract.functions.slotOf(token_id)))

    def checkpoint_of(self, token_id: int) -> int:
        return int(self._call(self.contract.functions.checkpointOf(token_id)))

    def invoice_key_state(self, invoice_key: bytes | str) -> int:
        """0 unused, 1 reserved by a pending application, 2 consumed."""
        return int(self._call(self.contract.functions.invoiceKeyState(_b32(invoice_key))))


class EvidenceRegistryClient(_Client):
    """EvidenceRegistry: anchor batch roots, revoke roots and leaves, verify leaves."""

    contract_name = "EvidenceRegistry"

    def anchor(self, root: bytes | str, doc_type: int, count: int,
               manifest_hash: bytes | str = ZERO32) -> Anchored:
        tx = self._send(self.contract.functions.anchor(_b32(root), int(doc_type), int(count),
                                                       _b32(manifest_hash)))
        return Anchored(tx, _hex(_b32(root)), int(doc_type), int(count))

    def revoke_root(self, root: bytes | str, reason_code: bytes | str = ZERO32) -> TxResult:
        return self._send(self.contract.functions.revokeRoot(_b32(root), _b32(reason_code)))

    def revoke_leaf(self, root: bytes | str, leaf: bytes | str,
                    reason_code: bytes | str = ZERO32) -> TxResult:
        return self._send(self.contract.functions.revokeLeaf(_b32(root), _b32(leaf),
                                                             _b32(reason_code)))

    def get_root(self, root: bytes | str) -> EvidenceRoot:
        a, t, c, m, at, rv = self._call(self.contract.functions.getRoot(_b32(root)))
        return EvidenceRoot(_hex(_b32(root)), str(a), int(t), int(c), _hex(m), int(at), bool(rv))

    def verify_leaf(self, root: bytes | str, leaf: bytes | str,
                    proof: Sequence[bytes | str]) -> bool:
        return bool(self._call(self.contract.functions.verifyLeaf(
            _b32(root), _b32(leaf), [_b32(p) for p in proof])))

    def is_leaf_revoked(self, root: bytes | str, leaf: bytes | str) -> bool:
        return bool(self._call(self.contract.functions.isLeafRevoked(_b32(root), _b32(leaf))))


class SettlementTokenClient(_Client):
    """An ERC-20 settlement token (on dev chains, the mintable TestSettlementToken)."""

    contract_name = "TestSettlementToken"

    def balance_of(self, account: str) -> int:
        return int(self._call(self.contract.functions.balanceOf(checksum(account))))

    def allowance(self, owner: str, spender: str) -> int:
        return int(self._call(self.contract.functions.allowance(checksum(owner),
                                                                checksum(spender))))

    def decimals(self) -> int:
        return int(self._call(self.contract.functions.decimals()))

    def approve(self, spender: str, amount: int) -> TxResult:
        return self._send(self.contract.functions.approve(checksum(spender), amount))

    def transfer(self, to: str, amount: int) -> TxResult:
        return self._send(self.contract.functions.transfer(checksum(to), amount))

    def mint(self, to: str, amount: int) -> TxResult:
        """Dev chains only: the TestSettlementToken's owner creates test money."""
        return self._send(self.contract.functions.mint(checksum(to), amount))
