"""The receivable story end to end on the embedded chain, then the auditor's view of it.

Run by `bash scripts/demo.sh`. It drives the contracts directly through the Python chain layer
(signing locally, typed reverts), indexes every event into SQLite, and prints the lineage tree,
the fund-flow table and a reconciliation of the store against the chain. Exits non-zero if any
amount is off. (The HTTP gateway version of this story belongs to the API, issue #5.)
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rfc8785  # noqa: E402
from eth_utils import keccak  # noqa: E402

from scf_chain.audit import participant_flows, reconcile, trace_receivable  # noqa: E402
from scf_chain.chain.embedded import EmbeddedChain  # noqa: E402
from scf_chain.db import make_engine, session_factory, upgrade  # noqa: E402
from scf_chain.db.models import Token  # noqa: E402
from scf_chain.indexer import Indexer  # noqa: E402
from tests.contracts.harness import System, build_system  # noqa: E402

DAY = 86_400
CENTS = 100
DOC_MIXED = 4


def yuan(units: int) -> str:
    return f"{units / CENTS:,.2f}"


def _node(a: bytes, b: bytes) -> bytes:
    lo, hi = sorted((a, b))
    return keccak(b"\x01" + lo + hi)


def merkle(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """Root and per-leaf proofs, by the contract's rule (sorted pairs, odd node promoted)."""
    proofs: list[list[bytes]] = [[] for _ in leaves]
    level = [(h, [i]) for i, h in enumerate(leaves)]
    while len(level) > 1:
        nxt = []
        for j in range(0, len(level) - 1, 2):
            (a, ia), (b, ib) = level[j], level[j + 1]
            for i in ia:
                proofs[i].append(b)
            for i in ib:
                proofs[i].append(a)
            nxt.append((_node(a, b), ia + ib))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0][0], proofs


def doc_key(kind: str, issuer: str, number: str) -> bytes:
    return keccak(rfc8785.dumps({"type": kind, "issuer": issuer, "number": number}))


def fields_root(doc: dict[str, object]) -> bytes:
    return keccak(rfc8785.dumps(doc))


@dataclass(frozen=True)
class DeploymentView:
    receivable_token: str
    evidence_registry: str
    settlement_tokens: list[str]
    start_block: int


def main() -> int:
    chain = EmbeddedChain()
    s: System = build_system(chain)
    A, B, C = s.holders
    names = {A: "Supplier A", B: "Supplier B", C: "Supplier C", s.debtor: "CoreCo (debtor)",
             s.bank: "Bank", s.token.address: "ReceivableToken", s.anchorer.address: "Logistics"}
    by_lower = {k.lower(): v for k, v in names.items()}

    def name(address: str | None) -> str:
        return by_lower.get((address or "").lower(), str(address))

    say = print
    say("== 1. Evidence: purchase order, logistics, invoice anchored as one batch")
    order = {"number": "PO-2026-001", "buyer": "CoreCo", "seller": "Supplier A", "amount": 1_200_000_00}
    delivery = {"waybill": "SF-778899", "order": "PO-2026-001", "event": "delivered", "signed_by": "CoreCo"}
    invoice = {"number": "INV-2026-042", "seller": "Supplier A", "buyer": "CoreCo",
               "amount": 1_000_000_00, "tax": 130_000_00, "order": "PO-2026-001"}
    keys = [doc_key("order", "CoreCo", "PO-2026-001"), doc_key("logistics", "SF", "SF-778899:delivered"),
            doc_key("invoice", "Supplier A", "INV-2026-042")]
    roots = [fields_root(order), fields_root(delivery), fields_root(invoice)]
    leaves = [keccak(b"\x00" + keccak(k + r)) for k, r in zip(keys, roots)]
    root, proofs = merkle(leaves)
    s.anchorer.transact(s.evidence.functions.anchor(root, DOC_MIXED, 3, keccak(rfc8785.dumps(
        [k.hex() for k in keys]))))
    say(f"   root 0x{root.hex()} anchored by the logistics provider")

    say("== 2. Supplier A applies; CoreCo confirms 1,000,000.00")
    maturity = chain.now() + 90 * DAY
    rcpt = s.sender(A).transact(s.token.functions.applyFor(
        s.debtor, A, 1_000_000_00, s.erc20.address, maturity, keys[2], roots[2], root, proofs[2]))
    slot = int(s.events(rcpt, "Applied")[0]["slot"])
    rcpt = s.debtor_sender.transact(s.token.functions.confirm(slot))
    t_a = int(s.events(rcpt, "Confirmed")[0]["tokenId"])
    say(f"   receivable (slot) {slot}, token {t_a} holds {yuan(s.value_of(t_a))}")

    say("== 3. A splits 300,000 to B; B splits 100,000 to C")
    t_b = s.split(A, t_a, B, 300_000_00)
    t_c = s.split(B, t_b, C, 100_000_00)

    say("== 4. A finances 200,000 with the bank at a discount (DvP)")
    offer_id, t_bank = s.offer(A, t_a, 200_000_00, 196_000_00, chain.now() + 10 * DAY)
    s.accept(offer_id)
    say(f"   bank paid {yuan(196_000_00)} for {yuan(200_000_00)} of the receivable")

    say("== 5. Maturity passes; the keeper collects from CoreCo and pays every holder pro rata")
    s.authorize_collection(slot)
    chain.time_travel(91 * DAY)
    collected = s.collect(slot)
    tokens = [t_a, t_b, t_c, t_bank]
    paid = s.redeem_batch(tokens)
    say(f"   collected {yuan(collected)}, paid out {yuan(paid)} to {len(tokens)} tokens")

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        dep = DeploymentView(s.token.address, s.evidence.address, [s.erc20.address], 0)
        Indexer(chain, sessions, dep, confirmations=0).index_once()
        with sessions() as db:
            trace = trace_receivable(db, slot)
            say("\n== Auditor: lineage of receivable", slot)
            assert trace.lineage is not None
            stack = [(trace.lineage, 0)]
            while stack:
                node, depth = stack.pop()
                say(f"   {'  ' * depth}token {node.token_id}  {name(node.holder):<16} "
                    f"value {yuan(node.value):>14}  redeemed {yuan(node.redeemed):>14}  {node.state}")
                stack.extend((c, depth + 1) for c in reversed(node.children))
            say("\n== Auditor: financing")
            for f in trace.financings:
                rate = float(f.implied_annual_rate) if f.implied_annual_rate is not None else 0.0
                say(f"   offer {f.offer_id}: {name(f.seller)} sold {yuan(f.value)} to "
                    f"{name(f.financier)} for {yuan(f.price)} (implied {rate:.2%} a year)")
            say("\n== Auditor: fund flows")
            say(f"   {'kind':<11} {'payer':<18} {'payee':<18} {'amount':>14}")
            seen = set()
            for who in (s.debtor, s.bank, A, B, C):
                for row in participant_flows(db, who).inflows + participant_flows(db, who).outflows:
                    key = (row.tx_hash, row.log_index)
                    if key in seen:
                        continue
                    seen.add(key)
                    say(f"   {row.kind:<11} {name(row.payer)[:18]:<18} "
                        f"{name(row.payee)[:18]:<18} {yuan(row.amount):>14}")
            report = reconcile(db, chain, dep)
            say(f"\n== Reconciliation: {report.tokens_checked} tokens, {report.receivables_checked} "
                f"receivables checked -> {'clean' if report.clean else 'DIFFERENCES'}")
            for d in report.differences:
                say(f"   {d}")
            live = db.query(Token).filter(Token.slot == slot, Token.burned.is_(False)).count()
        engine.dispose()
    expected = {A: 196_000_00 + 500_000_00, B: 200_000_00, C: 100_000_00}
    ok = report.clean and paid == 1_000_000_00 and live == 0
    for who, gained in expected.items():
        ok &= s.erc20_balance(who) == gained
    say(f"\nholders received: A {yuan(s.erc20_balance(A))} (financing + redemption), "
        f"B {yuan(s.erc20_balance(B))}, C {yuan(s.erc20_balance(C))}, bank redeemed {yuan(200_000_00)}")
    say("demo: OK" if ok else "demo: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
