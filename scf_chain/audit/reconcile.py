"""Compare the read models with the chain's own state at the indexed block; list every difference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from scf_chain.chain.base import ChainBackend
from scf_chain.chain.reverts import to_revert
from scf_chain.contracts import artifacts
from scf_chain.contracts.encoding import STORED_RECEIVABLE_STATUS, slot_of
from scf_chain.db.models import Holding, IndexerCursor, Receivable, Token
from scf_chain.errors import AuditError
from scf_chain.indexer.ingest import DeploymentLike


@dataclass(frozen=True)
class Difference:
    """One disagreement. kind: token, receivable, slot_total, holder_count, settlement_balance."""

    kind: str
    key: str
    field: str
    db: Any
    chain: Any


@dataclass
class ReconcileReport:
    """The outcome of `reconcile`: empty `differences` means the store matches the chain."""

    block: int
    tokens_checked: int
    receivables_checked: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


def _w3(chain: ChainBackend | Web3) -> Web3:
    return chain if isinstance(chain, Web3) else chain.w3


def reconcile(
    session: Session,
    chain: ChainBackend | Web3,
    deployment: DeploymentLike,
    *,
    block: int | None = None,
    cursor_name: str = "default",
) -> ReconcileReport:
    """Check the store against the chain at `block` (default: the indexer's cursor).

    Every token: value (balanceOf) and owner (ownerOf), burned tokens must not exist; every
    receivable on chain (1..slotCount): parties, face, maturity, settlement token, stored status,
    repaid, paidOut; per active slot: Σ live token values == face − paidOut; per holder: its
    ERC-721 token count; per settlement token: the contract's balance == Σ(repaid − paidOut).
    """
    if block is None:
        cur = session.get(IndexerCursor, cursor_name)
        if cur is None:
            raise AuditError(f"indexer {cursor_name!r} has not indexed anything yet")
        block = cur.last_block
    w3 = _w3(chain)
    token_abi = artifacts.load("ReceivableToken").abi
    token = w3.eth.contract(address=to_checksum_address(deployment.receivable_token), abi=token_abi)
    comps = next(f for f in token_abi if f.get("name") == "getReceivable")["outputs"][0]["components"]
    ix = {c["name"]: i for i, c in enumerate(comps)}
    balance_of_token = token.get_function_by_signature("balanceOf(uint256)")
    balance_of_owner = token.get_function_by_signature("balanceOf(address)")
    diffs: list[Difference] = []

    def call(fn: Any) -> Any:
        return fn.call(block_identifier=block)

    # tokens
    tokens = session.execute(select(Token.token_id, Token.owner, Token.value, Token.burned)
                             .order_by(Token.token_id)).all()
    live_by_slot: dict[int, int] = defaultdict(int)
    for tid, owner, value, burned in tokens:
        key = str(tid)
        try:
            chain_owner = str(call(token.functions.ownerOf(tid))).lower()
            chain_value = int(call(balance_of_token(tid)))
        except Exception as exc:  # NonexistentToken, however the backend reports a revert
            revert = to_revert(exc)
            if revert is None or revert.error_name != "NonexistentToken":
                raise
            chain_owner, chain_value = None, None
        if burned:
            if chain_owner is not None:
                diffs.append(Difference("token", key, "burned", True, False))
            continue
        live_by_slot[slot_of(tid)] += value
        if chain_owner is None:
            diffs.append(Difference("token", key, "burned", False, True))
            continue
        if chain_owner != owner:
            diffs.append(Difference("token", key, "owner", owner, chain_owner))
        if chain_value != value:
            diffs.append(Difference("token", key, "value", value, chain_value))

    # receivables
    db_recs = {r.slot: r for r in session.scalars(select(Receivable))}
    slot_count = int(call(token.functions.slotCount()))
    per_token_outstanding: dict[str, int] = defaultdict(int)
    for slot in range(1, slot_count + 1):
        c = call(token.functions.getReceivable(slot))
        r = db_recs.pop(slot, None)
        if r is None:
            diffs.append(Difference("receivable", str(slot), "missing", None, "present"))
            continue
        expected: dict[str, int | str] = {
            "debtor": str(c[ix["debtor"]]).lower(), "creditor": str(c[ix["creditor"]]).lower(),
            "face_value": int(c[ix["faceValue"]]), "maturity": int(c[ix["maturity"]]),
            "settlement_token": str(c[ix["settlementToken"]]).lower(),
            "status": STORED_RECEIVABLE_STATUS.get(int(c[ix["status"]]), str(c[ix["status"]])),
            "repaid": int(c[ix["repaid"]]), "paid_out": int(c[ix["paidOut"]]),
        }
        for name, expected_value in expected.items():
            db_value = getattr(r, name)
            if db_value != expected_value:
                diffs.append(Difference("receivable", str(slot), name, db_value, expected_value))
        if expected["status"] == "active":
            want = int(c[ix["faceValue"]]) - int(c[ix["paidOut"]])
            if live_by_slot.get(slot, 0) != want:
                diffs.append(Difference("slot_total", str(slot), "sum_of_token_values",
                                        live_by_slot.get(slot, 0), want))
        if r.settlement_token is not None:
            per_token_outstanding[r.settlement_token] += r.repaid - r.paid_out
    for slot in sorted(db_recs):
        diffs.append(Difference("receivable", str(slot), "missing", "present", None))

    # token counts per holder (catches tokens the store never saw)
    counts: dict[str, int] = defaultdict(int)
    for address, n in session.execute(select(Holding.address, Holding.token_count)).tuples():
        counts[address] += n
    for address in sorted(counts):
        chain_n = int(call(balance_of_owner(to_checksum_address(address))))
        if chain_n != counts[address]:
            diffs.append(Difference("holder_count", address, "token_count", counts[address], chain_n))

    # settlement-token balances held by the contract
    erc20_abi = artifacts.load("TestSettlementToken").abi
    for st in _settlement_tokens(deployment.settlement_tokens, per_token_outstanding):
        erc20 = w3.eth.contract(address=to_checksum_address(st), abi=erc20_abi)
        held = int(call(erc20.functions.balanceOf(token.address)))
        if held != per_token_outstanding.get(st, 0):
            diffs.append(Difference("settlement_balance", st, "balance_of_contract",
                                    per_token_outstanding.get(st, 0), held))
    return ReconcileReport(block, len(tokens), slot_count, diffs)


def _settlement_tokens(listed: Sequence[str], seen: dict[str, int]) -> list[str]:
    return sorted({a.lower() for a in listed} | set(seen))
