"""Audit: traces, participant flows and reconciliation against the chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from scf_chain.audit import implied_annual_rate, participant_flows, reconcile, trace_receivable
from scf_chain.audit.flows import FLOW_COLUMNS
from scf_chain.db.models import Receivable, Token
from scf_chain.errors import AuditError
from scf_chain.indexer import Indexer
from tests.indexer.scenario import FACE, Facts, run_scenario

DAY = 86_400


def _indexed(store, deployed, finish: bool = True) -> tuple[Facts, object, object]:  # type: ignore[no-untyped-def]
    system, dep = deployed
    facts = run_scenario(system, finish=finish)
    Indexer(system.chain, store.sessions, dep, confirmations=0).index_once()
    return facts, system, dep


def test_reconcile_is_clean_after_the_scenario(store, deployed) -> None:  # type: ignore[no-untyped-def]
    _facts, system, dep = _indexed(store, deployed)
    with store.sessions() as s:
        report = reconcile(s, system.chain, dep)
    assert report.clean, report.differences
    assert report.tokens_checked >= 8 and report.receivables_checked == 3


def test_reconcile_is_clean_mid_life(store, deployed) -> None:  # type: ignore[no-untyped-def]
    _facts, system, dep = _indexed(store, deployed, finish=False)
    with store.sessions() as s:
        assert reconcile(s, system.chain, dep).differences == []


def test_tampered_token_rows_are_reported_precisely(store, deployed) -> None:  # type: ignore[no-untyped-def]
    facts, system, dep = _indexed(store, deployed, finish=False)
    b = system.holders[1].lower()
    bank = system.bank.lower()
    with store.sessions() as s, s.begin():
        s.execute(update(Token).where(Token.token_id == facts.t_b).values(value=199_999))
        s.execute(update(Token).where(Token.token_id == facts.t_c).values(owner=bank))
    with store.sessions() as s:
        diffs = reconcile(s, system.chain, dep).differences
    assert {(d.kind, d.key, d.field, d.db, d.chain) for d in diffs} == {
        ("token", str(facts.t_b), "value", 199_999, 200_000 - 0),
        ("token", str(facts.t_c), "owner", bank, system.holders[2].lower()),
        ("slot_total", str(facts.slot), "sum_of_token_values", FACE - 1, FACE),
    }
    assert b  # B's holding row was not touched, so no holder_count difference


def test_tampered_receivable_is_reported_with_the_contract_balance(store, deployed) -> None:  # type: ignore[no-untyped-def]
    facts, system, dep = _indexed(store, deployed, finish=False)
    with store.sessions() as s, s.begin():
        s.execute(update(Receivable).where(Receivable.slot == facts.slot).values(repaid=400_001))
    with store.sessions() as s:
        diffs = reconcile(s, system.chain, dep).differences
    st_addr = system.erc20.address.lower()
    assert {(d.kind, d.key, d.field, d.db, d.chain) for d in diffs} == {
        ("receivable", str(facts.slot), "repaid", 400_001, 400_000),
        ("settlement_balance", st_addr, "balance_of_contract", 400_001, 400_000),
    }


def test_trace_of_split_financed_repaid_redeemed_receivable(store, deployed) -> None:  # type: ignore[no-untyped-def]
    facts, system, _dep = _indexed(store, deployed)
    a, b, c = (h.lower() for h in system.holders)
    calls: list[tuple[str, str]] = []

    def verifier(root: str, key: str) -> bool:
        calls.append((root, key))
        return True

    with store.sessions() as s:
        t = trace_receivable(s, facts.slot, rate_ceiling=Decimal("0.05"), verifier=verifier)
    assert (t.face_value, t.repaid, t.paid_out) == (FACE, FACE, 800_000)
    # repaid in full and past maturity: matured as statusOf says (stored: active), derived at
    # the newest indexed block's time
    assert (t.status, t.stored_status) == ("matured", "active")
    assert t.status_at >= facts.maturity
    assert t.lineage is not None and t.lineage.token_id == facts.root
    assert t.token_count == 6
    tree = {n.token_id: [ch.token_id for ch in n.children] for n in t.nodes()}
    assert tree[facts.root] == [facts.t_b, facts.t_c, facts.escrow_financed]
    assert tree[facts.t_b] == [facts.t_c2, facts.escrow_cancelled]
    states = {n.token_id: (n.holder, n.value, n.state, n.redeemed) for n in t.nodes()}
    assert states[facts.root] == (a, 0, "redeemed", 250_000)
    assert states[facts.escrow_financed] == (system.bank.lower(), 0, "redeemed", 250_000)
    assert states[facts.t_c] == (c, 0, "redeemed", 300_000)
    assert states[facts.t_b] == (b, 200_000, "live", 0)
    assert states[facts.escrow_cancelled][2] == "emptied"
    assert t.current_holders == {b: 200_000}
    # financing: exact implied annual rate
    (f,) = t.financings
    days = Fraction(facts.maturity - f.block_time, DAY)
    assert f.block_time == facts.financed_at
    assert (f.value, f.price, f.seller, f.financier) == (250_000, 245_000, a, system.bank.lower())
    assert f.implied_annual_rate == Fraction(5_000, 245_000) * 365 / days
    assert f.above_ceiling is True  # ~8.3 % a year > 5 %
    assert [p.amount for p in t.repayments] == [400_000, 600_000]
    assert {p.payer for p in t.repayments} == {system.debtor.lower()}
    assert sorted(p.amount for p in t.redemptions) == [100_000, 100_000, 150_000, 150_000, 300_000]
    assert sum(p.amount for p in t.redemptions) == t.paid_out
    assert t.evidence.anchored and not t.evidence.revoked and t.evidence.verified is True
    assert calls == [(t.evidence.root, t.evidence.invoice_key)]
    doc = json.loads(t.to_json())
    assert doc["paid_out"] == "800000" and len(doc["lineage"]) == 6
    assert t.to_json() == json.dumps(t.to_dict(), separators=(",", ":"))  # the fast writer
    assert (doc["status"], doc["stored_status"]) == ("matured", "active")
    with store.sessions() as s:
        assert trace_receivable(s, facts.slot, now=facts.maturity - 1).status == "active"
        assert trace_receivable(s, facts.slot, now=facts.maturity).status == "matured"
        assert trace_receivable(s, facts.slot, rate_ceiling=Fraction(1, 10)).financings[0].above_ceiling is False
        with pytest.raises(AuditError):
            trace_receivable(s, 999)


def test_participant_flows_in_and_out_with_exports(store, deployed) -> None:  # type: ignore[no-untyped-def]
    facts, system, _dep = _indexed(store, deployed)
    a = system.holders[0]
    token = system.erc20.address.lower()
    with store.sessions() as s:
        pf = participant_flows(s, a)
        debtor = participant_flows(s, system.debtor)
        early = participant_flows(s, a, until=facts.financed_at)
    assert [r.kind for r in pf.inflows] == ["financing", "redemption", "redemption"]
    assert pf.total_in() == {token: 245_000 + 100_000 + 150_000} and pf.outflows == []
    assert debtor.total_out() == {token: FACE} and debtor.inflows == []
    assert [r.kind for r in early.rows] == ["financing"]
    rows = list(csv.reader(io.StringIO(pf.to_csv())))
    assert tuple(rows[0]) == FLOW_COLUMNS
    assert rows[1][FLOW_COLUMNS.index("amount")] == "245000"
    doc = json.loads(pf.to_json())
    assert list(doc["flows"][0]) == list(FLOW_COLUMNS)
    assert doc["total_in"] == {token: "495000"}
    assert pf.to_csv() == participant_flows(store.sessions(), a).to_csv()  # deterministic


@settings(max_examples=200)
@given(value=st.integers(1, 2**96 - 1), price=st.integers(1, 2**96 - 1),
       days=st.integers(1, 365 * 86_400))
def test_implied_rate_is_exact_and_orders_like_the_discount(value: int, price: int, days: int) -> None:
    price = min(price, value)
    d = Fraction(days, DAY)
    rate = implied_annual_rate(value, price, d)
    assert rate is not None and rate * price * d == (value - price) * 365
    assert (rate == 0) == (value == price)
    assert implied_annual_rate(value, price, Fraction(0)) is None


def test_revoked_evidence_and_unexplained_transfers_show_up(store, deployed) -> None:  # type: ignore[no-untyped-def]
    facts, system, dep = _indexed(store, deployed, finish=False)
    with store.sessions() as s:
        root = trace_receivable(s, facts.slot).evidence.root
    system.anchorer.transact(system.evidence.functions.revokeLeaf(root, b"\x07" * 32, b"\x02" * 32))
    system.anchorer.transact(system.evidence.functions.revokeRoot(root, b"\x03" * 32))
    # settlement tokens sent straight to the contract: no receivable explains them
    system.debtor_sender.transact(system.erc20.functions.transfer(system.token.address, 123))
    Indexer(system.chain, store.sessions, dep, confirmations=0).index_once()
    with store.sessions() as s:
        ev = trace_receivable(s, facts.slot, verifier=lambda r, k: False).evidence
        assert ev.revoked and ev.revoked_leaves == ["0x" + "07" * 32] and ev.verified is False
        (other,) = [r for r in participant_flows(s, system.debtor).outflows if r.kind == "other"]
        assert (other.amount, other.payee, other.slot) == (123, system.token.address.lower(), None)
        diffs = reconcile(s, system.chain, dep).differences
    assert [(d.kind, d.db, d.chain) for d in diffs] == [("settlement_balance", 400_000, 400_123)]


@settings(max_examples=300, deadline=None)
@given(token_id=st.integers(0, 2**256 - 1), parent=st.none() | st.integers(0, 2**256 - 1),
       holder=st.one_of(st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
                        st.text(max_size=12)),
       value=st.integers(0, 2**256 - 1), burned=st.booleans(),
       redeemed=st.integers(0, 2**256 - 1), children=st.lists(st.integers(0, 2**64), max_size=3))
def test_fast_lineage_json_is_json_dumps(token_id: int, parent: int | None, holder: str,
                                         value: int, burned: bool, redeemed: int,
                                         children: list[int]) -> None:
    """The trace writes its lineage nodes without json.dumps: byte for byte the same text, for
    any holder text the store could hold (quotes, controls, non-ASCII go through json)."""
    from scf_chain.audit.trace import TokenNode, _node_dict, _node_json

    kids = [TokenNode(c, "0x" + "00" * 20, 0, False, 0, token_id, 1, "0x") for c in children]
    node = TokenNode(token_id, holder, value, burned, redeemed, parent, 1, "0x", kids)
    assert _node_json(node) == json.dumps(_node_dict(node), separators=(",", ":"))
