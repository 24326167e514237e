"""Trace one receivable end to end: lineage tree, financing rates, repayments, redemptions, evidence."""

from __future__ import annotations

import gc
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from scf_chain.contracts.encoding import derive_status
from scf_chain.db.models import (
    EvidenceRoot,
    FundFlow,
    IndexedBlock,
    Offer,
    Receivable,
    RevokedLeaf,
    Token,
)
from scf_chain.errors import AuditError

DAY_S = 86_400
YEAR_DAYS = 365
RATE_DECIMAL_PLACES = 8

# verifier(evidence_root, invoice_key) -> whether the evidence checks out (e.g. against the chain
# registry and the document store); None means no verification was asked for.
Verifier = Callable[[str, str], bool]

_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_restore = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a large trace is built or written.

    A 10,000-token trace allocates tens of thousands of objects, which triggers full
    collections that scan the whole heap (on a gateway: every module and cached object) and
    doubled the trace's time. The objects built here hold no reference cycles, so nothing is
    lost: collection resumes (if it was on) when the last concurrent pauser leaves.
    """
    global _gc_pausers, _gc_restore
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_restore:
                gc.enable()


@dataclass
class TokenNode:
    """A token in the lineage tree. `children` are the tokens split off it, oldest first.

    A `withheld` node is another participant's token on the path to the viewer's own: its id
    and place in the tree are shown, its holder, value and redemptions are not (see
    `scf_chain.audit.visibility`).
    """

    token_id: int
    holder: str
    value: int
    burned: bool
    redeemed: int
    parent_token_id: int | None
    minted_block: int
    minted_tx: str
    children: list[TokenNode] = field(default_factory=list)
    withheld: bool = False

    @property
    def state(self) -> str:
        """live, redeemed (burned by full redemption) or emptied (burned or left with no value);
        withheld for a node whose holder and value the viewer may not see."""
        if self.withheld:
            return "withheld"
        if not self.burned:
            return "live" if self.value > 0 else "emptied"
        return "redeemed" if self.redeemed > 0 else "emptied"

    def walk(self) -> Iterator[TokenNode]:
        """This node and every descendant, depth first, without recursion (trees can be deep)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


@dataclass(frozen=True)
class Financing:
    """An accepted offer: `value` of the receivable sold for `price` at `block_time`."""

    offer_id: int
    escrow_token_id: int
    seller: str
    financier: str
    value: int
    price: int
    block_time: int
    days_to_maturity: Fraction
    implied_annual_rate: Fraction | None  # (value − price)/price × 365 / days to maturity
    above_ceiling: bool | None
    registration_ref: str
    tx_hash: str

    @property
    def implied_annual_rate_decimal(self) -> Decimal | None:
        """The rate rounded half-even to 8 decimal places, for display (0.12 = 12 %)."""
        if self.implied_annual_rate is None:
            return None
        r = self.implied_annual_rate
        return (Decimal(r.numerator) / Decimal(r.denominator)).quantize(
            Decimal(1).scaleb(-RATE_DECIMAL_PLACES))


@dataclass(frozen=True)
class Payment:
    """A repayment into the contract or a redemption out of it (or another transfer)."""

    kind: str
    payer: str
    payee: str
    amount: int
    token: str | None
    token_id: int | None
    block_number: int
    block_time: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class EvidenceStatus:
    """The receivable's evidence root as anchored on chain, and an optional verification."""

    root: str
    invoice_key: str
    anchored: bool
    anchorer: str | None
    doc_type: int | None
    anchored_at: int | None
    revoked: bool
    revoked_leaves: list[str]
    verified: bool | None


@dataclass
class ReceivableTrace:
    """Everything an auditor needs about one receivable, from the store."""

    slot: int
    debtor: str
    creditor: str
    face_value: int
    settlement_token: str | None
    maturity: int
    status: str  # derived at `status_at` (matured, overdue, settled as statusOf gives them)
    stored_status: str  # as the contract stores it (active until withdrawn or rejected)
    status_at: int  # the chain time the status was derived at
    issued_at: int | None
    repaid: int
    paid_out: int
    lineage: TokenNode | None
    token_count: int
    current_holders: dict[str, int]
    financings: list[Financing]
    repayments: list[Payment]
    redemptions: list[Payment]
    evidence: EvidenceStatus

    def nodes(self) -> Iterator[TokenNode]:
        return self.lineage.walk() if self.lineage is not None else iter(())

    def to_json(self) -> str:
        """Deterministic JSON: amounts and ids as integer strings, rates as exact fractions.

        The same text as `json.dumps(self.to_dict(), separators=(",", ":"))`; the lineage, which
        is nearly all of it, is written directly (a 10,000-token tree costs 4x less that way).
        """
        head = self.to_dict(lineage=False)
        text = json.dumps(head, separators=(",", ":"))
        marker = '"lineage":[]'
        at = text.index(marker) + len(marker) - 1
        with gc_paused():
            return text[:at] + ",".join(_node_json(n) for n in self.nodes()) + text[at:]

    def to_dict(self, lineage: bool = True) -> dict[str, Any]:
        return _trace_dict(self, lineage)


def implied_annual_rate(value: int, price: int, days_to_maturity: Fraction) -> Fraction | None:
    """(value − price) / price × 365 / days; None when the price or the remaining term is zero."""
    if price <= 0 or days_to_maturity <= 0:
        return None
    return Fraction(value - price, price) * YEAR_DAYS / days_to_maturity


def trace_receivable(
    session: Session,
    slot: int,
    *,
    rate_ceiling: Fraction | Decimal | None = None,
    verifier: Verifier | None = None,
    now: int | None = None,
) -> ReceivableTrace:
    """The trace of receivable `slot`. Raises AuditError if the store does not know it.

    Its status is derived at chain time `now` (the gateway passes the node's); without it, at
    the time of the newest block the indexer has processed, the latest the store can vouch for.
    """
    with gc_paused():
        return _trace(session, slot, rate_ceiling, verifier, now)


def indexed_time(session: Session) -> int:
    """The timestamp of the newest block the indexer processed (0 before the first)."""
    newest = session.scalar(select(IndexedBlock.timestamp)
                            .order_by(IndexedBlock.number.desc()).limit(1))
    return int(newest or 0)


def _trace(session: Session, slot: int, rate_ceiling: Fraction | Decimal | None,
           verifier: Verifier | None, now: int | None) -> ReceivableTrace:
    r = session.get(Receivable, slot)
    if r is None:
        raise AuditError(f"no receivable with slot {slot} in the store")
    at = indexed_time(session) if now is None else now
    # Columns read as the driver gives them (digit strings on SQLite, Decimal on PostgreSQL) and
    # converted here: the column types' per-value processing was most of a large trace's time.
    cols = [type_coerce(c, NullType()) for c in (
        Token.token_id, Token.owner, Token.value, Token.burned, Token.redeemed,
        Token.parent_token_id, Token.minted_block, Token.minted_tx)]
    rows: list[Any] = list(session.execute(select(*cols).where(Token.slot == slot)).tuples())
    nodes = {n.token_id: n for n in (
        TokenNode(int(tid), owner, int(value), bool(burned), int(redeemed),
                  None if parent is None else int(parent), int(block), tx)
        for tid, owner, value, burned, redeemed, parent, block, tx in rows)}
    root: TokenNode | None = None
    holders: dict[str, int] = {}
    for tid in sorted(nodes):
        node = nodes[tid]
        parent = nodes.get(node.parent_token_id) if node.parent_token_id is not None else None
        if parent is not None:
            parent.children.append(node)
        elif tid == r.first_token_id:
            root = node
        if not node.burned and node.value > 0:
            holders[node.holder] = holders.get(node.holder, 0) + node.value

    ceiling = Fraction(rate_ceiling) if rate_ceiling is not None else None
    offers = {o.offer_id: o for o in session.scalars(
        select(Offer).where(Offer.slot == slot, Offer.status == "accepted"))}
    financings: list[Financing] = []
    repayments: list[Payment] = []
    redemptions: list[Payment] = []
    for f in session.scalars(select(FundFlow).where(FundFlow.slot == slot)
                             .order_by(FundFlow.block_number, FundFlow.log_index)):
        if f.kind == "financing" and f.offer_id is not None and f.offer_id in offers:
            o = offers[f.offer_id]
            days = Fraction(r.maturity - f.block_time, DAY_S)
            rate = implied_annual_rate(o.value, o.price, days)
            financings.append(Financing(
                offer_id=o.offer_id, escrow_token_id=o.escrow_token_id, seller=f.payee,
                financier=f.payer, value=o.value, price=o.price, block_time=f.block_time,
                days_to_maturity=days, implied_annual_rate=rate,
                above_ceiling=None if ceiling is None or rate is None else rate > ceiling,
                registration_ref=o.registration_ref, tx_hash=f.tx_hash))
            continue
        p = Payment(f.kind, f.payer, f.payee, f.amount, f.token, f.token_id, f.block_number,
                    f.block_time, f.tx_hash, f.log_index)
        (repayments if f.kind == "repayment" else redemptions).append(p)

    ev = session.get(EvidenceRoot, r.evidence_root)
    leaves = list(session.scalars(select(RevokedLeaf.leaf).where(RevokedLeaf.root == r.evidence_root)
                                  .order_by(RevokedLeaf.leaf)))
    evidence = EvidenceStatus(
        root=r.evidence_root, invoice_key=r.invoice_key, anchored=ev is not None,
        anchorer=ev.anchorer if ev else None, doc_type=ev.doc_type if ev else None,
        anchored_at=ev.anchored_at if ev else None, revoked=bool(ev and ev.revoked),
        revoked_leaves=leaves,
        verified=None if verifier is None else bool(verifier(r.evidence_root, r.invoice_key)))
    return ReceivableTrace(
        slot=slot, debtor=r.debtor, creditor=r.creditor, face_value=r.face_value,
        settlement_token=r.settlement_token, maturity=r.maturity,
        status=derive_status(r.status, r.face_value, r.repaid, r.paid_out, r.maturity, at),
        stored_status=r.status, status_at=at, issued_at=r.issued_at, repaid=r.repaid, paid_out=r.paid_out, lineage=root,
        token_count=len(nodes), current_holders=dict(sorted(holders.items())),
        financings=financings, repayments=repayments, redemptions=redemptions, evidence=evidence)


def _s(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}"
    return str(v)


def _node_dict(n: TokenNode) -> dict[str, Any]:
    if n.withheld:
        return {"token_id": _s(n.token_id), "parent_token_id": _s(n.parent_token_id),
                "holder": None, "value": None, "burned": None, "redeemed": None,
                "state": n.state, "children": [_s(c.token_id) for c in n.children]}
    return {"token_id": _s(n.token_id), "parent_token_id": _s(n.parent_token_id),
            "holder": n.holder, "value": _s(n.value), "burned": n.burned,
            "redeemed": _s(n.redeemed), "state": n.state,
            "children": [_s(c.token_id) for c in n.children]}


_PLAIN = re.compile(r"^[0-9A-Za-z]*$")


def _node_json(n: TokenNode) -> str:
    """`json.dumps(_node_dict(n), separators=(",", ":"))`, written directly. Only the holder is
    text from the store: anything but an address's letters and digits goes through json."""
    if n.withheld:
        return json.dumps(_node_dict(n), separators=(",", ":"))
    holder = n.holder
    holder_json = f'"{holder}"' if holder.startswith("0x") and _PLAIN.match(holder[2:]) \
        else json.dumps(holder)
    parent = "null" if n.parent_token_id is None else f'"{n.parent_token_id}"'
    children = ",".join(f'"{c.token_id}"' for c in n.children)
    return (f'{{"token_id":"{n.token_id}","parent_token_id":{parent},"holder":{holder_json},'
            f'"value":"{n.value}","burned":{"true" if n.burned else "false"},'
            f'"redeemed":"{n.redeemed}","state":"{n.state}","children":[{children}]}}')


def _trace_dict(t: ReceivableTrace, lineage: bool = True) -> dict[str, Any]:
    nodes = [_node_dict(n) for n in t.nodes()] if lineage else []
    return {
        "slot": _s(t.slot), "debtor": t.debtor, "creditor": t.creditor,
        "face_value": _s(t.face_value), "settlement_token": t.settlement_token,
        "maturity": _s(t.maturity), "status": t.status, "stored_status": t.stored_status,
        "status_at": _s(t.status_at), "issued_at": _s(t.issued_at),
        "repaid": _s(t.repaid), "paid_out": _s(t.paid_out), "token_count": _s(t.token_count),
        "lineage": nodes,
        "current_holders": {k: _s(v) for k, v in t.current_holders.items()},
        "financings": [{
            "offer_id": _s(f.offer_id), "escrow_token_id": _s(f.escrow_token_id),
            "seller": f.seller, "financier": f.financier, "value": _s(f.value),
            "price": _s(f.price), "block_time": _s(f.block_time),
            "days_to_maturity": _s(f.days_to_maturity),
            "implied_annual_rate": _s(f.implied_annual_rate),
            "implied_annual_rate_decimal": _s(f.implied_annual_rate_decimal),
            "above_ceiling": f.above_ceiling, "registration_ref": f.registration_ref,
            "tx_hash": f.tx_hash} for f in t.financings],
        "repayments": [_payment_dict(p) for p in t.repayments],
        "redemptions": [_payment_dict(p) for p in t.redemptions],
        "evidence": {"root": t.evidence.root, "invoice_key": t.evidence.invoice_key,
                     "anchored": t.evidence.anchored, "anchorer": t.evidence.anchorer,
                     "doc_type": _s(t.evidence.doc_type), "anchored_at": _s(t.evidence.anchored_at),
                     "revoked": t.evidence.revoked, "revoked_leaves": t.evidence.revoked_leaves,
                     "verified": t.evidence.verified},
    }


def _payment_dict(p: Payment) -> dict[str, Any]:
    return {"kind": p.kind, "payer": p.payer, "payee": p.payee, "amount": _s(p.amount),
            "token": p.token, "token_id": _s(p.token_id), "block_number": _s(p.block_number),
            "block_time": _s(p.block_time), "tx_hash": p.tx_hash, "log_index": _s(p.log_index)}
