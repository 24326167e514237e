"""A simulated e-commerce supply chain market, with trade fraud injected under ground-truth labels.

The simulator drives the real system through the platform's Python layer (`Platform`, the
evidence operations, the token clients and `platform.operations`): documents are submitted,
encrypted and anchored; receivables are applied for against the anchored invoice, confirmed,
split, financed and repaid on chain. The risk engine then reads only what the indexer folded and
what the evidence pass read from the document store, as in production.

The market: core enterprises (debtors), each with a hidden health that drives its lateness and
defaults; tier-1 suppliers that sell to them and pass parts of their receivables to tier-2
suppliers; banks that finance at market rates; a logistics provider that records deliveries and
anchors the evidence.

Injected patterns (labels: pattern -> items the detector should name):
- `fictitious_trade` (slots): an invoice without a delivery, a delivery after the invoice date,
  an invoice above its order. The gateway refuses all three at the door (the cross-document
  check of `prepare_application`); the fraudster here signs `applyFor` with its own key, which
  the contract accepts because it checks only the invoice's anchoring.
- `circular_trade` (slots): value passed around a loop of shell suppliers back to its origin,
  and self-financing (a related financier passes the financed value back to the seller).
- `split_storm` (offers): a token cut into many tiny parts, then financed.
- `above_market_rate` (offers): financing at an implied annual rate above the ceiling.
- `concentration` (supplier:debtor pairs): a supplier's receivables all on one weak debtor.

The simulation runs with the risk gates off: it calls the platform operations, not the routes.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from scf_chain.clients import Role
from scf_chain.errors import EvidenceRequestError
from scf_chain.platform import evidence as evidence_ops
from scf_chain.platform import operations
from scf_chain.platform.core import Platform

DAY = 86_400
PATTERNS = ("fictitious_trade", "circular_trade", "split_storm", "above_market_rate",
            "concentration")
CLEAN_RATES = (0.02, 0.08)
FRAUD_RATES = (0.20, 0.40)
GAS_WEI = 10**18


@dataclass
class SimConfig:
    receivables: int = 40
    debtors: int = 4
    suppliers: int = 8  # tier 1
    tier2: int = 4
    banks: int = 2
    fraud_share: float = 0.15
    seed: int = 1
    tenor_days: int = 60
    batch: int = 200  # documents anchored per batch


@dataclass
class SimResult:
    labels: dict[str, list[str]]
    receivables: int
    fraud_receivables: int
    transactions: int
    participants: dict[str, str] = field(default_factory=dict)
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "receivables": self.receivables,
                "fraud_receivables": self.fraud_receivables, "transactions": self.transactions,
                "labels": self.labels, "participants": self.participants}


@dataclass
class _Trade:
    supplier: str
    debtor: str
    face: int
    pattern: str | None = None  # the pattern this receivable carries
    variant: str = ""
    slot: int = 0
    token: int = 0
    doc_ids: dict[str, str] = field(default_factory=dict)


def _plan(cfg: SimConfig, rng: random.Random) -> tuple[list[_Trade], list[str]]:
    """Which receivable carries which pattern. Patterns are spread evenly; the rest is clean."""
    n_fraud = (0 if cfg.fraud_share == 0
               else max(len(PATTERNS), round(cfg.receivables * cfg.fraud_share)))
    kinds: list[str] = [PATTERNS[i % len(PATTERNS)] for i in range(n_fraud)]
    # a concentrated supplier has 3 receivables, all on the weak debtor
    n_c = kinds.count("concentration")
    kinds = [k for k in kinds if k != "concentration"] + ["concentration"] * (-(-n_c // 3) * 3)
    # fictitious trade comes in its three variants
    n_f = kinds.count("fictitious_trade")
    if kinds:
        kinds += ["fictitious_trade"] * (max(3, n_f) - n_f)
    trades: list[_Trade] = []
    debtors = [f"core-{i}" for i in range(cfg.debtors)]
    counter: dict[str, int] = defaultdict(int)
    n_conc = n_loop = 0
    for kind in kinds:
        if kind == "concentration":
            supplier = f"conc-{n_conc // 3}"
            n_conc += 1
            trades.append(_Trade(supplier, "core-weak", 0, kind))
        elif kind == "circular_trade":
            ring = n_loop
            n_loop += 1
            variant = "self_financing" if ring % 2 else "loop"
            trades.append(_Trade(f"ring-{ring}-0", "", 0, kind, variant))
        elif kind == "fictitious_trade":
            variant = ("no_delivery", "late_delivery", "over_order")[counter[kind] % 3]
            counter[kind] += 1
            trades.append(_Trade("", "", 0, kind, variant))
        else:
            trades.append(_Trade("", "", 0, kind))
    while len(trades) < cfg.receivables:
        trades.append(_Trade("", "", 0))
    rng.shuffle(trades)
    # clean supplier -> debtor round robin: no clean supplier has its receivables on one debtor
    per_supplier: dict[str, int] = defaultdict(int)
    for i, t in enumerate(trades):
        t.face = rng.randint(10_000, 30_000) * 100  # 10,000.00 - 30,000.00
        if not t.supplier:
            t.supplier = f"supplier-{i % cfg.suppliers}"
        if t.pattern != "concentration":
            k = per_supplier[t.supplier]
            per_supplier[t.supplier] += 1
            base = int(t.supplier.rsplit("-", 1)[1]) if t.supplier.startswith("supplier-") else i
            t.debtor = debtors[(base + k) % len(debtors)]
    return trades, debtors


class Simulator:
    def __init__(self, platform: Platform, cfg: SimConfig) -> None:
        self.p, self.cfg = platform, cfg
        self.rng = random.Random(cfg.seed)
        self.addr: dict[str, str] = {}
        self.txs = 0
        self.labels: dict[str, list[str]] = {k: [] for k in PATTERNS}

    # -- helpers -----------------------------------------------------------------------------------
    def _who(self, name: str) -> Any:
        return self.p.participant(name)

    def _party(self, name: str, roles: Role, funds: int = 0) -> None:
        if name in self.addr:
            return
        p, _ = self.p.create_participant(name, name, roles, dev_funds=funds)
        self.addr[name] = p.address
        self.txs += 2 + bool(funds)

    def _date(self, offset_days: float) -> datetime:
        return datetime.fromtimestamp(self.start, UTC) + timedelta(days=offset_days)

    # -- the market ----------------------------------------------------------------------------------
    def run(self) -> SimResult:
        cfg, rng, p = self.cfg, self.rng, self.p
        trades, debtors = _plan(cfg, rng)
        health = {d: rng.uniform(0.75, 0.99) for d in debtors}
        health["core-weak"] = 0.05
        big = 10**15
        for d in [*debtors, "core-weak"]:
            self._party(d, Role.DEBTOR, big)
        for t in trades:
            self._party(t.supplier, Role.SUPPLIER)
        for i in range(cfg.tier2):
            self._party(f"tier2-{i}", Role.SUPPLIER)
        banks = [f"bank-{i}" for i in range(cfg.banks)]
        for b in banks:
            self._party(b, Role.FINANCIER, big)
        self._party("logistics", Role.ANCHORER)
        op = p.token(p.operator_account)
        for d in [*debtors, "core-weak"]:
            op.set_credit_limit(self.addr[d], big)
            self.txs += 1
        self.start = p.chain.now()
        maturity = self.start + cfg.tenor_days * DAY

        # 1. orders, deliveries, invoices: submitted, then anchored in batches
        for i, t in enumerate(trades):
            self._documents(i, t)
        while True:
            try:
                evidence_ops.anchor_pending(p, self._who("logistics"), cfg.batch)
                self.txs += 1
            except EvidenceRequestError:
                break

        # 2. apply (the fictitious ones past the gateway's check) and confirm
        for t in trades:
            self._apply_confirm(t, maturity)

        # 3. splits to tier 2, loops, storms; financing
        for t in trades:
            self._move(t, banks, maturity)

        # 4. repayment by each debtor's hidden health: on time, late, or default
        p.chain.time_travel(cfg.tenor_days * DAY - DAY)
        late: list[tuple[_Trade, int]] = []
        for t in trades:
            u = rng.random()
            if u < health[t.debtor]:
                self._repay(t)
            elif rng.random() < 0.6:
                late.append((t, rng.randint(5, 40)))
            # else: default, never repaid
        p.chain.time_travel(DAY)  # maturity
        passed = 0
        for days in sorted({n for _, n in late}):
            p.chain.time_travel((days - passed) * DAY)
            passed = days
            for t, n in late:
                if n == days:
                    self._repay(t)
        p.chain.time_travel(DAY)
        p.sync(force=True)
        for k in self.labels:
            self.labels[k] = sorted(set(self.labels[k]), key=lambda x: (len(x), x))
        fraud = sum(1 for t in trades if t.pattern)
        return SimResult(self.labels, len(trades), fraud, self.txs, dict(self.addr), cfg.seed)

    def _documents(self, i: int, t: _Trade) -> None:
        debtor, supplier = self.addr[t.debtor], self.addr[t.supplier]
        number = f"SIM{self.cfg.seed}-{i}"
        invoice_amount = t.face + self.rng.randint(0, 50) * 100
        order_amount = invoice_amount + self.rng.randint(0, 20) * 100
        if t.variant == "over_order":
            order_amount = invoice_amount * 6 // 10
        order = {"kind": "purchase_order", "number": f"PO-{number}", "buyer": debtor,
                 "seller": supplier, "currency": "CNY",
                 "issue_date": self._date(-20).date().isoformat(),
                 "lines": [{"sku": "SKU-1", "description": "goods", "quantity": 1,
                            "unit_price": order_amount}], "amount": order_amount}
        delivered = self._date(-10 if t.variant != "late_delivery" else 5)
        delivery = {"kind": "logistics", "waybill": f"WB-{number}", "carrier": "SimExpress",
                    "order_number": f"PO-{number}", "event": "delivered",
                    "timestamp": delivered.isoformat(), "location": "Hangzhou",
                    "shipper": supplier, "consignee": debtor, "signed_by": "warehouse"}
        invoice = {"kind": "invoice", "number": f"INV-{number}", "seller": supplier,
                   "buyer": debtor, "order_number": f"PO-{number}", "currency": "CNY",
                   "amount": invoice_amount, "tax": 0,
                   "issue_date": self._date(-5).date().isoformat()}
        docs: list[tuple[str, dict[str, Any]]] = [(t.debtor, order), (t.supplier, invoice)]
        if t.variant != "no_delivery":
            docs.insert(1, ("logistics", delivery))
        for who, doc in docs:
            row = evidence_ops.submit(self.p, self._who(who), doc)
            t.doc_ids[doc["kind"]] = row.doc_id

    def _apply_confirm(self, t: _Trade, maturity: int) -> None:
        p = self.p
        supplier, debtor = self._who(t.supplier), self._who(t.debtor)
        if t.pattern == "fictitious_trade":
            # the fraudster's own key: the invoice is anchored, nothing else is checked on chain
            row, salted = evidence_ops.document(p, supplier, t.doc_ids["invoice"], False)
            assert row.batch_root is not None and row.proof is not None
            ev = evidence_ops.ApplicationEvidence(
                salted.doc_key, salted.fields_root, bytes.fromhex(row.batch_root[2:]),
                [bytes.fromhex(x[2:]) for x in row.proof])
        else:
            ev = evidence_ops.prepare_application(
                p, supplier, to_checksum_address(debtor.address), t.face, t.doc_ids["invoice"],
                t.doc_ids["purchase_order"], t.doc_ids["logistics"])
        applied = p.token(supplier).apply_for(
            debtor.address, supplier.address, t.face, p.manifest.settlement_tokens[0], maturity,
            ev.doc_key, ev.fields_root, ev.root, ev.proof)
        t.slot = applied.slot
        t.token = p.token(debtor).confirm(t.slot).token_id
        self.txs += 2
        if t.pattern == "fictitious_trade":
            self.labels["fictitious_trade"].append(str(t.slot))
        elif t.pattern == "concentration":
            self.labels["concentration"].append(
                f"{supplier.address.lower()}:{debtor.address.lower()}")

    def _split(self, holder: str, token: int, to: str, value: int) -> int:
        self.txs += 1
        return int(self.p.token(self._who(holder)).split(token, self.addr[to], value).to_token_id)

    def _finance(self, holder: str, token: int, bank: str, value: int, rate: float,
                 maturity: int) -> tuple[int, int]:
        p = self.p
        days = max(1.0, (maturity - p.chain.now()) / DAY)
        price = int(value / (1 + rate * days / 365))
        offer = p.token(self._who(holder)).offer(token, value, self.addr[bank], price,
                                                 p.chain.now() + 10 * DAY, b"\x01" * 32)
        financed = operations.accept_offer(p, self._who(bank), offer.offer_id)
        self.txs += 3
        return offer.offer_id, int(financed.token_id)

    def _move(self, t: _Trade, banks: list[str], maturity: int) -> None:
        rng, cfg = self.rng, self.cfg
        bank = rng.choice(banks)
        if t.pattern == "circular_trade":
            ring = t.supplier.rsplit("-", 1)[0]
            if t.variant == "loop":
                b, c = f"{ring}-1", f"{ring}-2"
                for who in (b, c):
                    self._party(who, Role.SUPPLIER)
                t_b = self._split(t.supplier, t.token, b, t.face // 2)
                t_c = self._split(b, t_b, c, t.face // 4)
                self._split(c, t_c, t.supplier, t.face // 8)
            else:
                related = f"{ring}-fin"
                self._party(related, Role.FINANCIER, 10**15)
                _, escrow = self._finance(t.supplier, t.token, related, t.face // 2,
                                          rng.uniform(*CLEAN_RATES), maturity)
                self._split(related, escrow, t.supplier, t.face // 4)
            self.labels["circular_trade"].append(str(t.slot))
            return
        if t.pattern == "split_storm":
            for _ in range(rng.randint(12, 16)):
                self._split(t.supplier, t.token, f"tier2-{rng.randrange(cfg.tier2)}",
                            rng.randint(50, 300) * 100)  # 50.00 - 300.00
            oid, _ = self._finance(t.supplier, t.token, bank, t.face // 4,
                                   rng.uniform(*CLEAN_RATES), maturity)
            self.labels["split_storm"].append(str(oid))
            return
        if t.pattern == "above_market_rate":
            oid, _ = self._finance(t.supplier, t.token, bank, t.face // 2,
                                   rng.uniform(*FRAUD_RATES), maturity)
            self.labels["above_market_rate"].append(str(oid))
            return
        if t.pattern is not None:
            return
        # clean: pass a part to a tier-2 supplier (at most 2 parts, each ≥ 10 %), and finance
        left = t.face
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 2)):
                part = t.face * rng.randint(10, 30) // 100
                self._split(t.supplier, t.token, f"tier2-{rng.randrange(cfg.tier2)}", part)
                left -= part
        if rng.random() < 0.5:
            self._finance(t.supplier, t.token, bank, left // 2, rng.uniform(*CLEAN_RATES),
                          maturity)

    def _repay(self, t: _Trade) -> None:
        operations.repay(self.p, self._who(t.debtor), t.slot, t.face)
        self.txs += 2


def simulate(platform: Platform, cfg: SimConfig, labels_out: Path | None = None) -> SimResult:
    """Run a market on `platform` and write its labels to `labels_out` (JSON)."""
    result = Simulator(platform, cfg).run()
    if labels_out is not None:
        labels_out.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    return result


def finding_items(detector: str, parties: list[str], slot: int | None,
                  details: dict[str, Any]) -> set[str]:
    """The items an alert names, in the labels' terms."""
    if detector == "fictitious_trade":
        return {str(slot)}
    if detector == "circular_trade":
        return {str(s) for s in details.get("slots", [])}
    if detector in ("split_storm", "above_market_rate"):
        return {str(details["offer_id"])}
    if detector == "concentration":  # a supplier and a debtor, in either order
        return {_pair(parties[0], parties[1])}
    return set()


def _pair(a: str, b: str) -> str:
    return ":".join(sorted((a.lower(), b.lower())))


def evaluate(platform: Platform, labels: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Refresh the risk engine (evidence pass, detectors, alerts) and score each detector's
    alerts against the labels: precision, recall, counts."""
    from scf_chain.risk.service import service_for

    svc = service_for(platform)
    platform.sync(force=True)
    svc.refresh(force=True)
    out: dict[str, dict[str, float]] = {}
    for pattern in PATTERNS:
        found: set[str] = set()
        offset = 0
        while True:
            page, total = svc.alerts(detector=pattern, limit=500, offset=offset)
            for a in page:
                found |= finding_items(pattern, a.parties, a.slot, a.details)
            offset += len(page)
            if not page or offset >= total:
                break
        truth = set(labels.get(pattern, []))
        if pattern == "concentration":
            truth = {_pair(*item.split(":")) for item in truth}
        tp = len(found & truth)
        out[pattern] = {"labelled": len(truth), "alerted": len(found), "true_positives": tp,
                        "precision": tp / len(found) if found else (1.0 if not truth else 0.0),
                        "recall": tp / len(truth) if truth else 1.0}
    return out
