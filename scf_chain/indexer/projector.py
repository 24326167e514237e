"""Apply a block-ordered batch of decoded events to the read models, in memory, then write in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from scf_chain.contracts.encoding import slot_of
from scf_chain.db.models import (
    Base,
    EvidenceRoot,
    FundFlow,
    Holding,
    LineageEdge,
    Offer,
    Participant,
    RawEvent,
    Receivable,
    RevokedLeaf,
    Token,
)
from scf_chain.risk.features import RiskFold

ZERO_ADDRESS = "0x" + "0" * 40
_IN_CHUNK = 500


M = TypeVar("M", bound=Base)


@dataclass(frozen=True)
class EventRecord:
    """One log as the indexer stores it (a decoded event plus where and when it happened)."""

    name: str
    address: str  # lowercase
    args: dict[str, Any]
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    block_time: int
    extra: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "args": self.args,
                "tx_hash": self.tx_hash, "log_index": self.log_index,
                "block_number": self.block_number, "block_hash": self.block_hash,
                "block_time": self.block_time, "extra": self.extra}


def _lower(v: Any) -> str:
    return str(v).lower()


def _hex(v: Any) -> str:
    return str(v).lower()


def _chunks(items: Sequence[Any], n: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


@dataclass
class _Expected:
    """A settlement-token transfer the contract's own events announced (repayment, redemption)."""

    payer: str
    payee: str
    amount: int


@dataclass
class Projector:
    """Folds events into the read models of one deployment.

    Every row a batch touches is fetched up front with a few `IN` queries, the events are applied
    to those objects in memory in log order, and the session writes them back in one flush;
    append-only rows (raw events, lineage, fund flows) go in as bulk inserts. The caller owns the
    transaction.
    """

    session: Session
    token_address: str
    settlement_tokens: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        self.token_address = self.token_address.lower()
        self.settlement_tokens = frozenset(a.lower() for a in self.settlement_tokens)
        self._tokens: dict[int, Token] = {}
        self._receivables: dict[int, Receivable] = {}
        self._holdings: dict[tuple[str, int], Holding] = {}
        self._offers: dict[int, Offer] = {}
        self._participants: dict[str, Participant] = {}
        self._roots: dict[str, EvidenceRoot] = {}
        self._leaves: dict[tuple[str, str], RevokedLeaf] = {}
        self._edges: list[dict[str, Any]] = []
        self._flows: list[dict[str, Any]] = []
        self._expected: dict[str, list[_Expected]] = defaultdict(list)

    # -- public -----------------------------------------------------------------------------------
    def apply(self, events: Sequence[EventRecord], store_raw: bool = True) -> int:
        """Apply `events` (sorted by block, log index; none already applied). Returns the count."""
        if not events:
            return 0
        with self.session.no_autoflush:
            self._prefetch(events)
            for ev in events:
                self._apply_one(ev)
        if store_raw:
            for part in _chunks([e.row() for e in events], 5000):
                self.session.execute(insert(RawEvent), list(part))
        if self._edges:
            self.session.execute(insert(LineageEdge), self._edges)
        if self._flows:
            self.session.execute(insert(FundFlow), self._flows)
        self.session.flush()
        self._edges, self._flows = [], []
        self._expected.clear()
        RiskFold(self.session, self.token_address).apply(events)  # risk features, same transaction
        return len(events)

    # -- prefetch ---------------------------------------------------------------------------------
    def _prefetch(self, events: Sequence[EventRecord]) -> None:
        token_ids: set[int] = set()
        slots: set[int] = set()
        offers: set[int] = set()
        accounts: set[str] = set()
        roots: set[str] = set()
        leaves: set[tuple[str, str]] = set()
        for ev in events:
            a = ev.args
            n = ev.name
            if ev.address == self.token_address:
                if n == "Transfer":
                    token_ids.add(int(a["tokenId"]))
                    accounts.update((_lower(a["from"]), _lower(a["to"])))
                elif n == "TransferValue":
                    token_ids.update((int(a["_fromTokenId"]), int(a["_toTokenId"])))
                elif n in ("Redeemed", "Confirmed"):
                    token_ids.add(int(a["tokenId"]))
                elif n == "Offered":
                    offers.add(int(a["offerId"]))
                    token_ids.update((int(a["sourceTokenId"]), int(a["escrowTokenId"])))
                elif n in ("Financed", "OfferCancelled"):
                    offers.add(int(a["offerId"]))
                    token_ids.add(int(a["escrowTokenId"]))
                elif n == "RolesSet":
                    accounts.add(_lower(a["account"]))
                if "slot" in a:
                    slots.add(int(a["slot"]))
            elif n == "Anchored" or n == "RootRevoked":
                roots.add(_hex(a["root"]))
            elif n == "LeafRevoked":
                leaves.add((_hex(a["root"]), _hex(a["leaf"])))
        token_ids.discard(0)
        slots.update(slot_of(t) for t in token_ids)
        self._load(Token, Token.token_id, token_ids, self._tokens, lambda o: o.token_id)
        for t in self._tokens.values():
            accounts.add(t.owner)
        self._load(Receivable, Receivable.slot, slots, self._receivables, lambda o: o.slot)
        self._load(Offer, Offer.offer_id, offers, self._offers, lambda o: o.offer_id)
        self._load(Participant, Participant.address, accounts & self._role_accounts(events),
                   self._participants, lambda o: o.address)
        self._load(EvidenceRoot, EvidenceRoot.root, roots, self._roots, lambda o: o.root)
        if leaves:
            for part in _chunks(sorted(leaves)):
                for obj in self.session.scalars(select(RevokedLeaf).where(
                        tuple_(RevokedLeaf.root, RevokedLeaf.leaf).in_(list(part)))):
                    self._leaves[(obj.root, obj.leaf)] = obj
        accounts.discard(ZERO_ADDRESS)
        if accounts and slots:
            want = {(a, s) for a in accounts for s in slots}
            if len(want) <= 20_000:
                for part in _chunks(sorted(want)):
                    for h in self.session.scalars(select(Holding).where(
                            tuple_(Holding.address, Holding.slot).in_(list(part)))):
                        self._holdings[(h.address, h.slot)] = h
            else:
                for part in _chunks(sorted(slots)):
                    for h in self.session.scalars(select(Holding).where(Holding.slot.in_(list(part)))):
                        if h.address in accounts:
                            self._holdings[(h.address, h.slot)] = h

    def _role_accounts(self, events: Sequence[EventRecord]) -> set[str]:
        return {_lower(e.args["account"]) for e in events if e.name == "RolesSet"}

    def _load(self, model: type[M], pk: Any, keys: set[Any], cache: dict[Any, M],
              key_of: Any) -> None:
        missing = sorted(k for k in keys if k not in cache)
        for part in _chunks(missing):
            for obj in self.session.scalars(select(model).where(pk.in_(list(part)))):
                cache[key_of(obj)] = obj

    # -- helpers ----------------------------------------------------------------------------------
    def _holding(self, address: str, slot: int) -> Holding:
        key = (address, slot)
        h = self._holdings.get(key)
        if h is None:
            h = Holding(address=address, slot=slot, value=0, token_count=0)
            self.session.add(h)
            self._holdings[key] = h
        return h

    def _token(self, token_id: int) -> Token:
        t = self._tokens.get(token_id)
        if t is None:
            raise KeyError(f"token {token_id} was never minted in the indexed range")
        return t

    def _first_token_of(self, slot: int) -> int | None:
        r = self._receivables.get(slot)
        return r.first_token_id if r is not None else None

    def _settlement_token_of(self, slot: int) -> str | None:
        r = self._receivables.get(slot)
        return r.settlement_token if r is not None else None

    # -- the fold ---------------------------------------------------------------------------------
    def _apply_one(self, ev: EventRecord) -> None:
        if ev.address == self.token_address:
            handler = getattr(self, f"_on_{ev.name}", None)
            if handler is not None:
                handler(ev, ev.args)
        elif ev.name in ("Anchored", "RootRevoked", "LeafRevoked"):
            getattr(self, f"_on_{ev.name}")(ev, ev.args)
        elif ev.name == "Transfer" and ev.address in self.settlement_tokens:
            self._on_erc20_transfer(ev, ev.args)

    def _on_RolesSet(self, ev: EventRecord, a: dict[str, Any]) -> None:
        addr = _lower(a["account"])
        p = self._participants.get(addr)
        if p is None:
            p = Participant(address=addr, roles=int(a["roles"]), first_block=ev.block_number,
                            updated_block=ev.block_number)
            self.session.add(p)
            self._participants[addr] = p
        else:
            p.roles = int(a["roles"])
            p.updated_block = ev.block_number

    def _on_Applied(self, ev: EventRecord, a: dict[str, Any]) -> None:
        slot = int(a["slot"])
        extra = ev.extra or {}
        st = extra.get("settlementToken")
        r = Receivable(
            slot=slot, debtor=_lower(a["debtor"]), creditor=_lower(a["creditor"]),
            face_value=int(a["faceValue"]), settlement_token=_lower(st) if st else None,
            maturity=int(a["maturity"]), invoice_key=_hex(a["invoiceKey"]),
            evidence_root=_hex(a["evidenceRoot"]), initiated_by_debtor=bool(a["initiatedByDebtor"]),
            status="pending", applied_block=ev.block_number, applied_tx=ev.tx_hash,
            collect_enabled=False, repaid=0, paid_out=0,
        )
        self.session.add(r)
        self._receivables[slot] = r

    def _on_Confirmed(self, ev: EventRecord, a: dict[str, Any]) -> None:
        r = self._receivables[int(a["slot"])]
        r.status = "active"
        r.confirmed_tx = ev.tx_hash
        r.issued_at = ev.block_time
        r.first_token_id = int(a["tokenId"])

    def _on_Rejected(self, ev: EventRecord, a: dict[str, Any]) -> None:
        self._receivables[int(a["slot"])].status = "rejected"

    def _on_Withdrawn(self, ev: EventRecord, a: dict[str, Any]) -> None:
        self._receivables[int(a["slot"])].status = "withdrawn"

    def _on_DebtorMoved(self, ev: EventRecord, a: dict[str, Any]) -> None:
        """A debtor's new key took the receivable over (key rotation)."""
        self._receivables[int(a["slot"])].debtor = _lower(a["to"])

    def _on_CollectionAuthorized(self, ev: EventRecord, a: dict[str, Any]) -> None:
        self._receivables[int(a["slot"])].collect_enabled = bool(a["enabled"])

    def _on_Transfer(self, ev: EventRecord, a: dict[str, Any]) -> None:
        token_id = int(a["tokenId"])
        src, dst = _lower(a["from"]), _lower(a["to"])
        slot = slot_of(token_id)
        if src == ZERO_ADDRESS:
            t = Token(token_id=token_id, slot=slot, owner=dst, value=0, parent_token_id=None,
                      minted_block=ev.block_number, minted_tx=ev.tx_hash, burned=False, redeemed=0)
            self.session.add(t)
            self._tokens[token_id] = t
            self._holding(dst, slot).token_count += 1
            return
        t = self._token(token_id)
        old = self._holding(src, slot)
        old.token_count -= 1
        if dst == ZERO_ADDRESS:
            t.burned = True  # the owner stays recorded: a redemption's value leaves it next
            return
        old.value -= t.value
        new = self._holding(dst, slot)
        new.token_count += 1
        new.value += t.value
        t.owner = dst

    def _on_TransferValue(self, ev: EventRecord, a: dict[str, Any]) -> None:
        src, dst, value = int(a["_fromTokenId"]), int(a["_toTokenId"]), int(a["_value"])
        slot = slot_of(dst or src)
        if src:
            s = self._token(src)
            s.value -= value
            self._holding(s.owner, slot).value -= value
        if dst:
            d = self._token(dst)
            if src and d.parent_token_id is None and d.minted_tx == ev.tx_hash and d.token_id != self._first_token_of(slot):
                d.parent_token_id = src  # a split: the new token's value came from `src`
            d.value += value
            self._holding(d.owner, slot).value += value
        self._edges.append({"slot": slot, "from_token_id": src, "to_token_id": dst, "value": value,
                            "block_number": ev.block_number, "tx_hash": ev.tx_hash,
                            "log_index": ev.log_index})

    def _on_Offered(self, ev: EventRecord, a: dict[str, Any]) -> None:
        oid = int(a["offerId"])
        o = Offer(
            offer_id=oid, slot=int(a["slot"]), holder=_lower(a["holder"]),
            source_token_id=int(a["sourceTokenId"]), escrow_token_id=int(a["escrowTokenId"]),
            financier=_lower(a["financier"]), value=int(a["value"]), price=int(a["price"]),
            expiry=int(a["expiry"]), registration_ref=_hex(a["registrationRef"]), status="open",
            offered_tx=ev.tx_hash,
        )
        self.session.add(o)
        self._offers[oid] = o

    def _on_Financed(self, ev: EventRecord, a: dict[str, Any]) -> None:
        oid = int(a["offerId"])
        o = self._offers[oid]
        o.status = "accepted"
        o.closed_tx = ev.tx_hash
        o.accepted_by = _lower(a["financier"])
        slot = int(a["slot"])
        # the price goes financier -> holder directly (DvP), so no transfer touches the contract
        self._flows.append({
            "kind": "financing", "payer": _lower(a["financier"]), "payee": _lower(a["holder"]),
            "amount": int(a["price"]), "token": self._settlement_token_of(slot), "slot": slot,
            "token_id": int(a["escrowTokenId"]), "offer_id": oid,
            "registration_ref": _hex(a["registrationRef"]), "block_number": ev.block_number,
            "block_time": ev.block_time, "tx_hash": ev.tx_hash, "log_index": ev.log_index,
        })

    def _on_OfferCancelled(self, ev: EventRecord, a: dict[str, Any]) -> None:
        o = self._offers[int(a["offerId"])]
        o.status = "cancelled"
        o.closed_tx = ev.tx_hash
        o.returned_to_token_id = int(a["returnedToTokenId"])

    def _on_Repaid(self, ev: EventRecord, a: dict[str, Any]) -> None:
        slot = int(a["slot"])
        r = self._receivables[slot]
        r.repaid = int(a["totalRepaid"])
        payer, amount = _lower(a["payer"]), int(a["amount"])
        self._expected[ev.tx_hash].append(_Expected(payer, self.token_address, amount))
        self._flows.append({
            "kind": "repayment", "payer": payer, "payee": self.token_address, "amount": amount,
            "token": r.settlement_token, "slot": slot, "token_id": None, "offer_id": None,
            "registration_ref": None, "block_number": ev.block_number,
            "block_time": ev.block_time, "tx_hash": ev.tx_hash, "log_index": ev.log_index,
        })

    def _on_Redeemed(self, ev: EventRecord, a: dict[str, Any]) -> None:
        slot, token_id = int(a["slot"]), int(a["tokenId"])
        amount, holder = int(a["amount"]), _lower(a["holder"])
        r = self._receivables[slot]
        r.paid_out += amount
        self._token(token_id).redeemed += amount
        self._expected[ev.tx_hash].append(_Expected(self.token_address, holder, amount))
        self._flows.append({
            "kind": "redemption", "payer": self.token_address, "payee": holder, "amount": amount,
            "token": r.settlement_token, "slot": slot, "token_id": token_id, "offer_id": None,
            "registration_ref": None, "block_number": ev.block_number,
            "block_time": ev.block_time, "tx_hash": ev.tx_hash, "log_index": ev.log_index,
        })

    def _on_erc20_transfer(self, ev: EventRecord, a: dict[str, Any]) -> None:
        src, dst, amount = _lower(a["from"]), _lower(a["to"]), int(a["value"])
        pending = self._expected.get(ev.tx_hash, [])
        for i, exp in enumerate(pending):
            if (exp.payer, exp.payee, exp.amount) == (src, dst, amount):
                del pending[i]  # already recorded from the contract's Repaid / Redeemed
                return
        # a transfer to or from the contract that no receivable event explains (e.g. a direct
        # donation): recorded, and it will show in the reconciliation of the contract's balance
        self._flows.append({
            "kind": "other", "payer": src, "payee": dst, "amount": amount, "token": ev.address,
            "slot": None, "token_id": None, "offer_id": None, "registration_ref": None,
            "block_number": ev.block_number, "block_time": ev.block_time,
            "tx_hash": ev.tx_hash, "log_index": ev.log_index,
        })

    def _on_Anchored(self, ev: EventRecord, a: dict[str, Any]) -> None:
        root = _hex(a["root"])
        r = EvidenceRoot(root=root, anchorer=_lower(a["anchorer"]), doc_type=int(a["docType"]),
                         count=int(a["count"]), manifest_hash=_hex(a["manifestHash"]),
                         anchored_block=ev.block_number, anchored_tx=ev.tx_hash,
                         anchored_at=ev.block_time, revoked=False)
        self.session.add(r)
        self._roots[root] = r

    def _on_RootRevoked(self, ev: EventRecord, a: dict[str, Any]) -> None:
        r = self._roots[_hex(a["root"])]
        r.revoked = True
        r.revoked_by = _lower(a["by"])
        r.revoked_reason = _hex(a["reasonCode"])
        r.revoked_tx = ev.tx_hash

    def _on_LeafRevoked(self, ev: EventRecord, a: dict[str, Any]) -> None:
        key = (_hex(a["root"]), _hex(a["leaf"]))
        if key in self._leaves:
            return
        leaf = RevokedLeaf(root=key[0], leaf=key[1], revoked_by=_lower(a["by"]),
                           reason=_hex(a["reasonCode"]), tx_hash=ev.tx_hash)
        self.session.add(leaf)
        self._leaves[key] = leaf
