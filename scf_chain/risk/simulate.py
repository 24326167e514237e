"""A simulated e-commerce supply chain market, with trade fraud injected under ground-truth labels.

The simulator drives the real system through the platform's Python layer (`Platform`, the
evidence operations and the token clients): documents are submitted, encrypted and anchored;
receivables are applied for against the anchored invoice, confirmed, split, financed and repaid on
chain. The risk engine then reads only what the indexer folded and what the evidence pass read
from the document store, as in production.

The market: core enterprises (debtors), each with a hidden health that drives its lateness and
defaults; tier-1 suppliers that sell to them and pass parts of their receivables to tier-2
suppliers, a few of them dishonest (they carry the supplier-side fraud); banks that finance at
market rates; a logistics provider that records deliveries and anchors the evidence. A market
runs in `rounds`: each round's receivables are issued, moved, and repaid or not by maturity, so
features taken at the end of one round can be judged by the next round's outcomes (training).

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

Evasive variants (`EVASIONS`: each tries to dodge one detector; labelled apart, in the terms of
the detector they try to dodge): a loop through more participants than the cycle search's bound,
a loop closed later than the cycle window, self-financing through an intermediary, a storm of
one part fewer than the threshold, a storm of parts just above the part-value threshold, an
invoice one unit above its order, a delivery attested by the seller itself, and a concentrated
supplier that keeps one receivable in five on a sound debtor.

The simulation runs with the risk gates off: it calls the platform's clients, not the routes.
Debtors and financiers approve the receivable contract once for the whole run (the gateway's
operations set an exact allowance per payment, which reads every open receivable of the payer
from the chain: quadratic in a market of thousands). With `workers` > 1 (a node that takes
concurrent requests: anvil), independent receivables run in parallel threads, each account's
transactions still signed in nonce order by its one sender.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import func, select

from scf_chain.chain.base import raw_request
from scf_chain.clients import Role
from scf_chain.db.models import GatewayParticipant, RawEvent
from scf_chain.errors import EvidenceRequestError
from scf_chain.platform import evidence as evidence_ops
from scf_chain.platform.core import Platform

log = logging.getLogger(__name__)

DAY = 86_400
PATTERNS = ("fictitious_trade", "circular_trade", "split_storm", "above_market_rate",
            "concentration")
# evasive pattern -> the detector it tries to dodge
EVASIONS: dict[str, str] = {
    "circular_long_loop": "circular_trade",
    "circular_slow_loop": "circular_trade",
    "related_party_via_intermediary": "circular_trade",
    "storm_under_count": "split_storm",
    "storm_parts_over_value": "split_storm",
    "invoice_small_excess": "fictitious_trade",
    "self_attested_delivery": "fictitious_trade",
    "concentration_diluted": "concentration",
}
# what each evasion does, for the report and docs
EVASION_TEXT: dict[str, str] = {
    "circular_long_loop": "a loop through 8 participants (the cycle search stops at 6)",
    "circular_slow_loop": "a loop of 3 whose last hop comes 59 days after the first "
                          "(window 30 days)",
    "related_party_via_intermediary": "self-financing: the related financier passes value to "
                                      "an intermediary, which passes it to the seller",
    "storm_under_count": "9 parts of 50.00–300.00 before a financing (threshold: 10 parts)",
    "storm_parts_over_value": "10–12 parts of 1,000.01–1,050.00 before a financing (parts "
                              "counted under 1,000.00)",
    "invoice_small_excess": "an invoice 1.00 above its order",
    "self_attested_delivery": "the delivery record submitted by the seller itself, consistent "
                              "with the order and invoice",
    "concentration_diluted": "4 of the supplier's 5 receivables (80 % of face value) on the weak "
                             "debtor (threshold: 90 %)",
}
SUPPLIER_FRAUD = frozenset({"fictitious_trade", "split_storm", "above_market_rate",
                            "storm_under_count", "storm_parts_over_value",
                            "invoice_small_excess", "self_attested_delivery"})
CLEAN_RATES = (0.02, 0.08)
FRAUD_RATES = (0.20, 0.40)
BIG = 10**15


@dataclass
class SimConfig:
    receivables: int = 40
    debtors: int = 4
    suppliers: int = 8  # tier 1
    tier2: int = 4
    banks: int = 2
    fraud_share: float = 0.15
    evasion_share: float = 0.0  # receivables carrying an evasive variant
    dishonest_share: float = 0.15  # tier-1 suppliers that carry the supplier-side fraud
    health: tuple[float, float] = (0.75, 0.99)  # debtors' hidden health is drawn from this
    rounds: int = 1
    seed: int = 1
    tenor_days: int = 60
    batch: int = 500  # documents anchored per batch
    workers: int = 1  # parallel receivables (anvil); the embedded chain always runs one


@dataclass(frozen=True)
class Outcome:
    """What happened to one receivable: the ground truth a scorecard is trained against."""

    round: int
    slot: int
    debtor: str
    supplier: str
    pattern: str | None
    repaid: str  # on_time, late, default
    days_late: int


@dataclass
class SimResult:
    labels: dict[str, list[str]]
    receivables: int
    fraud_receivables: int
    transactions: int
    participants: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    evasive_receivables: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    health: dict[str, float] = field(default_factory=dict)
    dishonest: list[str] = field(default_factory=list)
    indexed_events: int = 0  # events the indexer ingested during the run
    index_seconds: float = 0.0  # and the time it took (features folded as it ingests)
    phase_seconds: dict[str, float] = field(default_factory=dict)  # where the run's time went
    blocks: int = 0  # blocks mined for the market's transactions (0: one per transaction)

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "receivables": self.receivables,
                "fraud_receivables": self.fraud_receivables,
                "evasive_receivables": self.evasive_receivables,
                "transactions": self.transactions, "labels": self.labels,
                "participants": self.participants, "dishonest_suppliers": self.dishonest}


@dataclass
class _Trade:
    supplier: str
    debtor: str
    face: int
    pattern: str | None = None  # the pattern (or evasion) this receivable carries
    variant: str = ""
    index: int = 0
    round: int = 0
    slot: int = 0
    token: int = 0
    doc_ids: dict[str, str] = field(default_factory=dict)
    late_hop: tuple[str, int, str, int] | None = None  # (holder, token, to, value)


class _Miner:
    """Blocks of many transactions on a node that mines on demand (anvil).

    Under automine every transaction is a block of its own: the node seals a block (state
    root, receipts root) per transaction and every sender waits for its own. While the market
    runs here, automine is off and one thread mines a block whenever transactions are pending
    (at most every MINE_S): the parallel receivables' transactions share blocks, and each
    waiting sender is woken by the process's receipt watcher when its block is in. Every
    transaction is still signed, sent, mined and read back from its receipt.

    Meanwhile senders send with a fixed gas limit (`ChainBackend.send_gas`, above every
    operation the market makes) instead of having the node estimate each transaction, which
    executes it several times: half of anvil's work in a market. A transaction that reverted
    would still raise its typed error (replayed after mining)."""

    MINE_S = 0.05
    GAS = 1_000_000  # the market's largest operation (offer into escrow) takes about 261,000

    def __init__(self, chain: Any) -> None:
        self.chain = chain
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.blocks = 0

    def _rpc(self, method: str, params: list[Any]) -> Any:
        return raw_request(self.chain.w3, method, params)

    def __enter__(self) -> _Miner:
        self._rpc("evm_setAutomine", [False])
        self.chain.send_gas = self.GAS
        self._thread = threading.Thread(target=self._run, name="sim-miner", daemon=True)
        self._thread.start()
        return self

    def _pending(self) -> int:
        pending = self._rpc("txpool_status", []).get("pending", 0)
        return int(pending, 16) if isinstance(pending, str) else int(pending)

    def _run(self) -> None:
        while not self._stop.wait(self.MINE_S):
            try:
                if self._pending():
                    self._rpc("evm_mine", [])
                    self.blocks += 1
            except Exception:  # the node is busy or gone: the senders' timeouts say so
                log.debug("mining failed", exc_info=True)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.chain.send_gas = None
        self._rpc("evm_setAutomine", [True])
        if self._pending():  # automine does not take what already waits
            self._rpc("evm_mine", [])


def _spread(n: int, names: Iterable[str]) -> list[str]:
    names = list(names)
    return [names[i % len(names)] for i in range(n)]


def _plan(cfg: SimConfig, rng: random.Random) -> tuple[list[_Trade], list[str]]:
    """Which receivable carries which pattern, with which supplier and debtor. Patterns are
    spread evenly; the rest is clean."""
    n_fraud = (0 if cfg.fraud_share == 0
               else max(len(PATTERNS), round(cfg.receivables * cfg.fraud_share)))
    kinds: list[str] = _spread(n_fraud, PATTERNS)
    # a concentrated supplier has 3 receivables, all on the weak debtor
    n_c = kinds.count("concentration")
    kinds = [k for k in kinds if k != "concentration"] + ["concentration"] * (-(-n_c // 3) * 3)
    # fictitious trade comes in its three variants
    n_f = kinds.count("fictitious_trade")
    if kinds:
        kinds += ["fictitious_trade"] * (max(3, n_f) - n_f)
    n_ev = 0 if cfg.evasion_share == 0 else max(len(EVASIONS),
                                                round(cfg.receivables * cfg.evasion_share))
    evasive = _spread(n_ev, EVASIONS)
    n_d = evasive.count("concentration_diluted")  # 4 on the weak debtor, 1 on a sound one
    evasive = [k for k in evasive if k != "concentration_diluted"] + \
        ["concentration_diluted"] * (-(-n_d // 5) * 5)
    kinds += evasive
    dishonest = sorted(rng.sample(range(cfg.suppliers), max(1, round(cfg.suppliers
                                                                     * cfg.dishonest_share))))
    trades: list[_Trade] = []
    debtors = [f"core-{i}" for i in range(cfg.debtors)]
    counter: dict[str, int] = defaultdict(int)
    for kind in kinds:
        k = counter[kind]
        counter[kind] += 1
        if kind == "concentration":
            trades.append(_Trade(f"conc-{k // 3}", "core-weak", 0, kind))
        elif kind == "concentration_diluted":
            group, member = divmod(k, 5)
            trades.append(_Trade(f"dilute-{group}", "core-weak" if member < 4 else debtors[0],
                                 2_000_000, kind))
        elif kind == "circular_trade":
            trades.append(_Trade(f"ring-{k}-0", "", 0, kind,
                                 "self_financing" if k % 2 else "loop"))
        elif kind in ("circular_long_loop", "circular_slow_loop",
                      "related_party_via_intermediary"):
            short = {"circular_long_loop": "long", "circular_slow_loop": "slow",
                     "related_party_via_intermediary": "via"}[kind]
            trades.append(_Trade(f"{short}-{k}-0", "", 0, kind))
        else:
            variant = ("no_delivery", "late_delivery", "over_order")[k % 3] \
                if kind == "fictitious_trade" else ""
            trades.append(_Trade(f"supplier-{rng.choice(dishonest)}"
                                 if kind in SUPPLIER_FRAUD else "", "", 0, kind, variant))
    while len(trades) < cfg.receivables:
        trades.append(_Trade("", "", 0))
    rng.shuffle(trades)
    # clean supplier -> debtor round robin: no clean supplier has its receivables on one debtor
    per_supplier: dict[str, int] = defaultdict(int)
    for i, t in enumerate(trades):
        t.index = i
        t.round = i * cfg.rounds // len(trades)
        face = rng.randint(10_000, 30_000) * 100  # 10,000.00 - 30,000.00
        if t.pattern == "storm_parts_over_value":
            face = rng.randint(25_000, 30_000) * 100
        t.face = t.face or face
        if not t.supplier:
            t.supplier = f"supplier-{i % cfg.suppliers}"
        if not t.debtor:
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
        self._people: dict[str, GatewayParticipant] = {}
        self._txs = 0
        self._lock = threading.Lock()
        self.labels: dict[str, list[str]] = {k: [] for k in (*PATTERNS, *EVASIONS)}
        self.outcomes: list[Outcome] = []
        self.workers = 1 if platform.chain.name == "embedded" else max(1, cfg.workers)
        # blocks of many transactions where the node mines on demand and receivables run in
        # parallel (one worker would wait a block per transaction)
        self.batch_blocks = platform.chain.name == "anvil" and self.workers > 1
        self.indexed_events = 0
        self.index_seconds = 0.0
        self.phase_seconds: dict[str, float] = defaultdict(float)
        # SQLite takes one writer at a time and makes the others sleep and retry: documents are
        # stored one at a time instead (the encryption and the store's write stay in the thread)
        bind = platform.sessions.kw.get("bind")
        self._store_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if bind is not None and bind.dialect.name == "sqlite"
            else contextlib.nullcontext())

    # -- helpers -----------------------------------------------------------------------------------
    def _count(self, n: int) -> None:
        with self._lock:
            self._txs += n

    def _label(self, pattern: str, item: str) -> None:
        with self._lock:
            self.labels[pattern].append(item)

    def _who(self, name: str) -> GatewayParticipant:
        return self._people[name]

    def _trade_rng(self, t: _Trade, step: str) -> random.Random:
        """Each receivable's own draws: the same market whatever order the threads run in."""
        return random.Random(f"{self.cfg.seed}:{t.index}:{step}")

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phase_seconds[name] += time.perf_counter() - t0

    def _parallel(self, fn: Callable[[Any], None], items: list[Any]) -> None:
        if self.workers == 1 or len(items) < 2:
            for x in items:
                fn(x)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            for _ in pool.map(fn, items):
                pass

    def _parties(self, wanted: list[tuple[str, Role, int]]) -> None:
        todo = [w for w in dict.fromkeys(wanted) if w[0] not in self.addr]

        def make(w: tuple[str, Role, int]) -> None:
            name, roles, funds = w
            p, _ = self.p.create_participant(name, name, roles, dev_funds=funds)
            n = 2 + bool(funds)
            if funds:  # pays debts and prices from one allowance for the whole run
                self.p.money(p).approve(self.p.manifest.receivable_token, BIG)
                n += 1
            with self._lock:
                self.addr[name] = p.address
                self._people[name] = p
            self._count(n)

        self._parallel(make, todo)

    def _date(self, offset_days: float) -> datetime:
        return datetime.fromtimestamp(self.round_start, UTC) + timedelta(days=offset_days)

    # -- the market ----------------------------------------------------------------------------------
    def run(self, on_round_end: Callable[[int], None] | None = None) -> SimResult:
        cfg, rng, p = self.cfg, self.rng, self.p
        trades, debtors = _plan(cfg, rng)
        health = {d: rng.uniform(*cfg.health) for d in debtors}
        health["core-weak"] = 0.05
        wanted: list[tuple[str, Role, int]] = [(d, Role.DEBTOR, BIG)
                                               for d in [*debtors, "core-weak"]]
        wanted += [(t.supplier, Role.SUPPLIER, 0) for t in trades]
        wanted += [(f"tier2-{i}", Role.SUPPLIER, 0) for i in range(cfg.tier2)]
        banks = [f"bank-{i}" for i in range(cfg.banks)]
        wanted += [(b, Role.FINANCIER, BIG) for b in banks]
        wanted += [("logistics", Role.ANCHORER, 0)]
        for t in trades:  # the shells of loops and related parties
            ring = t.supplier.rsplit("-", 1)[0]
            if t.pattern == "circular_trade" and t.variant == "loop":
                wanted += [(f"{ring}-{i}", Role.SUPPLIER, 0) for i in (1, 2)]
            elif t.pattern == "circular_trade":
                wanted.append((f"{ring}-fin", Role.FINANCIER, BIG))
            elif t.pattern == "circular_long_loop":
                wanted += [(f"{ring}-{i}", Role.SUPPLIER, 0) for i in range(1, 8)]
            elif t.pattern == "circular_slow_loop":
                wanted += [(f"{ring}-{i}", Role.SUPPLIER, 0) for i in (1, 2)]
            elif t.pattern == "related_party_via_intermediary":
                wanted += [(f"{ring}-fin", Role.FINANCIER, BIG), (f"{ring}-1", Role.SUPPLIER, 0)]
        miner = _Miner(p.chain) if self.batch_blocks else None
        with miner if miner is not None else contextlib.nullcontext():
            with self._phase("participants"):
                self._parties(wanted)
                op = p.token(p.operator_account)

                def limit(d: str) -> None:
                    op.set_credit_limit(self.addr[d], BIG)
                    self._count(1)

                self._parallel(limit, [*debtors, "core-weak"])
            for r in range(cfg.rounds):
                self._round([t for t in trades if t.round == r], banks, health)
                if on_round_end is not None:
                    self._index()
                    with self._phase("round_end"):
                        on_round_end(r)
        self._index()
        for k in self.labels:
            self.labels[k] = sorted(set(self.labels[k]), key=lambda x: (len(x), x))
        fraud = sum(1 for t in trades if t.pattern in PATTERNS)
        evasive = sum(1 for t in trades if t.pattern in EVASIONS)
        dishonest = sorted({t.supplier for t in trades if t.pattern in SUPPLIER_FRAUD})
        return SimResult(self.labels, len(trades), fraud, self._txs, dict(self.addr), cfg.seed,
                         evasive, sorted(self.outcomes, key=lambda o: o.slot),
                         {self.addr[d]: h for d, h in health.items()},
                         [self.addr[s] for s in dishonest], self.indexed_events,
                         self.index_seconds, dict(self.phase_seconds),
                         miner.blocks if miner is not None else 0)

    def _index(self) -> None:
        """Bring the store up to the chain: the indexer ingests the events written since the
        last time, and folds the risk features as it goes (timed, for the benchmark)."""
        def events() -> int:
            with self.p.sessions() as s:
                return int(s.scalar(select(func.count()).select_from(RawEvent)) or 0)

        before = events()
        t0 = time.perf_counter()
        self.p.sync(force=True)
        self.index_seconds += time.perf_counter() - t0
        self.phase_seconds["indexing"] += time.perf_counter() - t0
        self.indexed_events += events() - before

    def _round(self, trades: list[_Trade], banks: list[str], health: dict[str, float]) -> None:
        cfg, p = self.cfg, self.p
        self.round_start = p.chain.now()
        maturity = self.round_start + cfg.tenor_days * DAY
        # 1. orders, deliveries, invoices: submitted, then anchored in batches
        with self._phase("documents"):
            self._parallel(self._documents, trades)
        with self._phase("anchoring"):
            while True:
                try:
                    evidence_ops.anchor_pending(p, self._who("logistics"), cfg.batch)
                    self._count(1)
                except EvidenceRequestError:
                    break
        # 2. apply (the fictitious ones past the gateway's check) and confirm
        with self._phase("apply_confirm"):
            self._parallel(lambda t: self._apply_confirm(t, maturity), trades)
        # 3. splits to tier 2, loops, storms; financing
        with self._phase("moves"):
            self._parallel(lambda t: self._move(t, banks, maturity), trades)
        with self._phase("repayment"):
            self._settle(trades, health)

    def _settle(self, trades: list[_Trade], health: dict[str, float]) -> None:
        """The day before maturity: slow loops close; repayment by each debtor's hidden health:
        on time, late, or default."""
        cfg, p = self.cfg, self.p
        p.chain.time_travel(cfg.tenor_days * DAY - DAY)
        self._parallel(self._late_hop, [t for t in trades if t.late_hop is not None])
        on_time: list[_Trade] = []
        late: dict[int, list[_Trade]] = defaultdict(list)
        for t in trades:
            rng = self._trade_rng(t, "repay")
            u = rng.random()
            d, s = self.addr[t.debtor].lower(), self.addr[t.supplier].lower()
            if u < health[t.debtor]:
                on_time.append(t)
                self.outcomes.append(Outcome(t.round, t.slot, d, s, t.pattern, "on_time", 0))
            elif rng.random() < 0.6:
                days = rng.randint(5, 40)
                late[days].append(t)
                self.outcomes.append(Outcome(t.round, t.slot, d, s, t.pattern, "late", days))
            else:  # default, never repaid
                self.outcomes.append(Outcome(t.round, t.slot, d, s, t.pattern, "default", 0))
        self._parallel(self._repay, on_time)
        p.chain.time_travel(DAY)  # maturity
        passed = 0
        for days in sorted(late):
            p.chain.time_travel((days - passed) * DAY)
            passed = days
            self._parallel(self._repay, late[days])
        p.chain.time_travel(DAY)

    def _documents(self, t: _Trade) -> None:
        rng = self._trade_rng(t, "documents")
        debtor, supplier = self.addr[t.debtor], self.addr[t.supplier]
        number = f"SIM{self.cfg.seed}-{t.index}"
        invoice_amount = t.face + rng.randint(0, 50) * 100
        order_amount = invoice_amount + rng.randint(0, 20) * 100
        if t.variant == "over_order":
            order_amount = invoice_amount * 6 // 10
        elif t.pattern == "invoice_small_excess":
            order_amount = invoice_amount - 100  # 1.00 short
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
        carrier = t.supplier if t.pattern == "self_attested_delivery" else "logistics"
        docs: list[tuple[str, dict[str, Any]]] = [(t.debtor, order), (t.supplier, invoice)]
        if t.variant != "no_delivery":
            docs.insert(1, (carrier, delivery))
        for who, doc in docs:
            with self._store_lock:
                row = evidence_ops.submit(self.p, self._who(who), doc)
            t.doc_ids[doc["kind"]] = row.doc_id

    def _apply_confirm(self, t: _Trade, maturity: int) -> None:
        p = self.p
        supplier, debtor = self._who(t.supplier), self._who(t.debtor)
        if t.pattern in ("fictitious_trade", "invoice_small_excess"):
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
        self._count(2)
        if t.pattern in ("fictitious_trade", "invoice_small_excess", "self_attested_delivery"):
            self._label(t.pattern, str(t.slot))
        elif t.pattern in ("concentration", "concentration_diluted") and \
                t.debtor == "core-weak":
            self._label(t.pattern, f"{supplier.address.lower()}:{debtor.address.lower()}")

    def _split(self, holder: str, token: int, to: str, value: int) -> int:
        self._count(1)
        return int(self.p.token(self._who(holder)).split(token, self.addr[to], value).to_token_id)

    def _finance(self, holder: str, token: int, bank: str, value: int, rate: float,
                 maturity: int) -> tuple[int, int]:
        p = self.p
        days = max(1.0, (maturity - p.chain.now()) / DAY)
        price = int(value / (1 + rate * days / 365))
        offer = p.token(self._who(holder)).offer(token, value, self.addr[bank], price,
                                                 p.chain.now() + 10 * DAY, b"\x01" * 32)
        financed = p.token(self._who(bank)).accept_offer(offer.offer_id)
        self._count(2)
        return offer.offer_id, int(financed.token_id)

    def _storm(self, t: _Trade, rng: random.Random, parts: int, low: int, high: int) -> None:
        for _ in range(parts):
            self._split(t.supplier, t.token, f"tier2-{rng.randrange(self.cfg.tier2)}",
                        rng.randint(low, high))

    def _move(self, t: _Trade, banks: list[str], maturity: int) -> None:
        cfg = self.cfg
        rng = self._trade_rng(t, "move")
        bank = rng.choice(banks)
        ring = t.supplier.rsplit("-", 1)[0]
        if t.pattern == "circular_trade" and t.variant == "loop":
            t_b = self._split(t.supplier, t.token, f"{ring}-1", t.face // 2)
            t_c = self._split(f"{ring}-1", t_b, f"{ring}-2", t.face // 4)
            self._split(f"{ring}-2", t_c, t.supplier, t.face // 8)
        elif t.pattern == "circular_trade":
            _, escrow = self._finance(t.supplier, t.token, f"{ring}-fin", t.face // 2,
                                      rng.uniform(*CLEAN_RATES), maturity)
            self._split(f"{ring}-fin", escrow, t.supplier, t.face // 4)
        elif t.pattern == "circular_long_loop":
            hops = [t.supplier, *(f"{ring}-{i}" for i in range(1, 8))]
            token, value = t.token, t.face // 2
            for a, b in zip(hops, hops[1:] + hops[:1], strict=True):
                token = self._split(a, token, b, value)
                value //= 2
        elif t.pattern == "circular_slow_loop":
            t_b = self._split(t.supplier, t.token, f"{ring}-1", t.face // 2)
            t_c = self._split(f"{ring}-1", t_b, f"{ring}-2", t.face // 4)
            t.late_hop = (f"{ring}-2", t_c, t.supplier, t.face // 8)
        elif t.pattern == "related_party_via_intermediary":
            _, escrow = self._finance(t.supplier, t.token, f"{ring}-fin", t.face // 2,
                                      rng.uniform(*CLEAN_RATES), maturity)
            t_i = self._split(f"{ring}-fin", escrow, f"{ring}-1", t.face // 4)
            self._split(f"{ring}-1", t_i, t.supplier, t.face // 8)
        elif t.pattern == "split_storm":
            self._storm(t, rng, rng.randint(12, 16), 5_000, 30_000)  # 50.00 - 300.00
        elif t.pattern == "storm_under_count":
            self._storm(t, rng, 9, 5_000, 30_000)
        elif t.pattern == "storm_parts_over_value":
            self._storm(t, rng, rng.randint(10, 12), 100_001, 105_000)
        if t.pattern in ("split_storm", "storm_under_count", "storm_parts_over_value"):
            oid, _ = self._finance(t.supplier, t.token, bank, t.face // 4,
                                   rng.uniform(*CLEAN_RATES), maturity)
            self._label(t.pattern, str(oid))
            return
        if t.pattern == "above_market_rate":
            oid, _ = self._finance(t.supplier, t.token, bank, t.face // 2,
                                   rng.uniform(*FRAUD_RATES), maturity)
            self._label(t.pattern, str(oid))
            return
        if t.pattern in ("circular_trade", "circular_long_loop", "circular_slow_loop",
                         "related_party_via_intermediary"):
            self._label(t.pattern, str(t.slot))
            return
        if t.pattern not in (None, "self_attested_delivery"):
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

    def _late_hop(self, t: _Trade) -> None:
        assert t.late_hop is not None
        holder, token, to, value = t.late_hop
        self._split(holder, token, to, value)

    def _repay(self, t: _Trade) -> None:
        self.p.token(self._who(t.debtor)).repay(t.slot, t.face)
        self._count(1)


def simulate(platform: Platform, cfg: SimConfig, labels_out: Path | None = None,
             on_round_end: Callable[[int], None] | None = None) -> SimResult:
    """Run a market on `platform` and write its labels to `labels_out` (JSON). `on_round_end`
    is called with the round's number after each round, the store indexed up to it."""
    result = Simulator(platform, cfg).run(on_round_end)
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


def _truth(labels: dict[str, list[str]], pattern: str) -> set[str]:
    items = set(labels.get(pattern, []))
    if pattern in ("concentration", "concentration_diluted"):
        return {_pair(*item.split(":")) for item in items}
    return items


def evaluate(platform: Platform, labels: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Refresh the risk engine (evidence pass, detectors, alerts) and score each detector's
    alerts against the labels.

    For a pattern: precision (alerted items that are labelled fraud of that detector's pattern
    or of an evasion of it), recall, counts. For an evasion: how many of its items the detector
    it tries to dodge caught anyway (`recall`), and that detector's name."""
    from scf_chain.risk.service import service_for

    svc = service_for(platform)
    platform.sync(force=True)
    svc.refresh(force=True)
    found: dict[str, set[str]] = {}
    for detector in PATTERNS:
        items: set[str] = set()
        offset = 0
        while True:
            page, total = svc.alerts(detector=detector, limit=500, offset=offset)
            for a in page:
                items |= finding_items(detector, a.parties, a.slot, a.details)
            offset += len(page)
            if not page or offset >= total:
                break
        found[detector] = items
    out: dict[str, dict[str, Any]] = {}
    for pattern in PATTERNS:
        truth = _truth(labels, pattern)
        fraud = truth.union(*(_truth(labels, e) for e, d in EVASIONS.items() if d == pattern))
        hits = found[pattern]
        tp = len(hits & truth)
        out[pattern] = {"labelled": len(truth), "alerted": len(hits), "true_positives": tp,
                        "precision": len(hits & fraud) / len(hits) if hits
                        else (1.0 if not truth else 0.0),
                        "recall": tp / len(truth) if truth else 1.0}
    for evasion, detector in EVASIONS.items():
        truth = _truth(labels, evasion)
        caught = len(found[detector] & truth)
        out[evasion] = {"detector": detector, "labelled": len(truth), "caught": caught,
                        "recall": caught / len(truth) if truth else 1.0}
    return out
