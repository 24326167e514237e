"""The visibility matrix on traces: each role sees its branch, its payouts and its financings only."""

from __future__ import annotations

import json
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from scf_chain.audit import View, Viewer, trace_receivable, trace_seen, view_of
from scf_chain.audit.trace import EvidenceStatus, ReceivableTrace, TokenNode
from scf_chain.indexer import Indexer
from tests.indexer.scenario import run_scenario


def _nodes(t: ReceivableTrace) -> dict[int, TokenNode]:
    return {n.token_id: n for n in t.nodes()}


def _parents(t: ReceivableTrace) -> dict[int, int | None]:
    out: dict[int, int | None] = {}
    if t.lineage is not None:
        out[t.lineage.token_id] = None
    for n in t.nodes():
        for c in n.children:
            out[c.token_id] = n.token_id
    return out


def _ancestors(parents: dict[int, int | None], token_id: int) -> Iterator[int]:
    up = parents[token_id]
    while up is not None:
        yield up
        up = parents[up]


def _check_party_view(full: ReceivableTrace, seen: ReceivableTrace, me: str) -> None:
    """What a party (not debtor, not auditor) must and must not see of `full`."""
    mine = {n.token_id for n in full.nodes() if n.holder.lower() == me}
    parents = _parents(full)
    needed = set(mine) | {a for t in mine for a in _ancestors(parents, t)}
    assert full.lineage is not None and seen.lineage is not None
    needed.add(full.lineage.token_id)
    shown = _nodes(seen)
    assert set(shown) == needed
    assert seen.token_count == len(shown)
    originals = _nodes(full)
    for tid, n in shown.items():
        if tid in mine:  # own tokens exactly as the store has them
            o = originals[tid]
            assert (n.withheld, n.holder, n.value, n.redeemed, n.burned) == (
                False, o.holder, o.value, o.redeemed, o.burned)
        else:  # others' tokens on the path: place in the tree only
            assert n.withheld and n.state == "withheld"
        assert [c.token_id for c in n.children] == [
            c.token_id for c in originals[tid].children if c.token_id in needed]
    assert _parents(seen) == {t: parents[t] for t in shown}
    assert set(seen.current_holders) <= {me}
    assert all(p.payee.lower() == me for p in seen.redemptions)
    assert all(me in (f.seller.lower(), f.financier.lower()) for f in seen.financings)
    assert seen.repayments == full.repayments and seen.evidence == full.evidence
    doc = json.loads(seen.to_json())
    assert seen.to_json() == json.dumps(seen.to_dict(), separators=(",", ":"))
    for node in doc["lineage"]:
        if node["state"] == "withheld":
            assert node["holder"] is node["value"] is node["redeemed"] is None


def test_each_role_sees_its_part_of_a_split_financed_redeemed_receivable(store, deployed  # type: ignore[no-untyped-def]
                                                                         ) -> None:
    system, dep = deployed
    facts = run_scenario(system)
    Indexer(system.chain, store.sessions, dep, confirmations=0).index_once()
    a, b, c = (h.lower() for h in system.holders)
    bank, debtor = system.bank.lower(), system.debtor.lower()
    with store.sessions() as s:
        full = trace_receivable(s, facts.slot, verifier=lambda root, key: True)
    text = full.to_json()

    for who in (system.holders[0], system.debtor):  # auditors and the operator: all of it
        assert trace_seen(full, Viewer(who, reads_everything=True)) is full
    assert full.to_json() == text

    as_debtor = trace_seen(full, Viewer(system.debtor))
    assert view_of(Viewer(system.debtor), system.debtor) is View.DEBTOR
    assert as_debtor.financings == []  # the financing terms are the seller's and the bank's
    assert as_debtor.lineage is full.lineage and as_debtor.token_count == full.token_count
    assert as_debtor.current_holders == full.current_holders
    assert as_debtor.redemptions == full.redemptions and as_debtor.repayments == full.repayments
    assert debtor not in {n.holder for n in full.nodes()}

    # B holds part through a split: its branch, nothing of A's financing with the bank
    as_b = trace_seen(full, Viewer(system.holders[1]))
    _check_party_view(full, as_b, b)
    assert as_b.financings == [] and as_b.current_holders == {b: 200_000}
    assert [n.token_id for n in as_b.nodes()] == [facts.root, facts.t_b]
    assert "245000" not in as_b.to_json() and bank not in as_b.to_json()

    # A, the original creditor, sold a part to the bank: its own financing, in full
    as_a = trace_seen(full, Viewer(system.holders[0]))
    _check_party_view(full, as_a, a)
    (f,) = as_a.financings
    assert (f.seller, f.financier, f.price) == (a, bank, 245_000)
    assert [n.token_id for n in as_a.nodes()] == [facts.root]
    assert sum(p.amount for p in as_a.redemptions) == 250_000

    # the bank: the part it bought, its financing, its payouts
    as_bank = trace_seen(full, Viewer(system.bank))
    _check_party_view(full, as_bank, bank)
    assert [n.token_id for n in as_bank.nodes()] == [facts.root, facts.escrow_financed]
    assert as_bank.financings == full.financings
    assert sum(p.amount for p in as_bank.redemptions) == 250_000

    # C holds two tokens on two branches (one from A, one from B)
    as_c = trace_seen(full, Viewer(system.holders[2]))
    _check_party_view(full, as_c, c)
    assert {facts.t_c, facts.t_c2, facts.t_b} <= set(_nodes(as_c))
    assert _nodes(as_c)[facts.t_b].withheld and as_c.financings == []


_HOLDERS = ["0x" + f"{i:040x}" for i in range(1, 5)]


@st.composite
def _trees(draw: st.DrawFn) -> TokenNode:
    n = draw(st.integers(1, 40))
    nodes = [TokenNode(1, draw(st.sampled_from(_HOLDERS)), draw(st.integers(0, 10**6)),
                       draw(st.booleans()), draw(st.integers(0, 10**6)), None, 1, "0x")]
    for i in range(2, n + 1):
        parent = nodes[draw(st.integers(0, len(nodes) - 1))]
        node = TokenNode(i, draw(st.sampled_from(_HOLDERS)), draw(st.integers(0, 10**6)),
                         draw(st.booleans()), draw(st.integers(0, 10**6)), parent.token_id, 1,
                         "0x")
        parent.children.append(node)
        nodes.append(node)
    return nodes[0]


@settings(max_examples=200, deadline=None)
@given(root=_trees(), who=st.sampled_from(_HOLDERS))
def test_a_party_sees_exactly_its_tokens_and_their_ancestors(root: TokenNode, who: str) -> None:
    full = ReceivableTrace(
        slot=1, debtor="0x" + "ee" * 20, creditor=root.holder, face_value=10**6,
        settlement_token=None, maturity=0, status="active", stored_status="active", status_at=0, issued_at=None, repaid=0,
        paid_out=0, lineage=root, token_count=sum(1 for _ in root.walk()),
        current_holders={}, financings=[], repayments=[], redemptions=[],
        evidence=EvidenceStatus("0x" + "11" * 32, "0x" + "22" * 32, True, None, 3, 1, False, [],
                                None))
    before = [(n.token_id, n.holder, n.value, [c.token_id for c in n.children])
              for n in root.walk()]
    _check_party_view(full, trace_seen(full, Viewer(who)), who)
    after = [(n.token_id, n.holder, n.value, [c.token_id for c in n.children])
             for n in root.walk()]
    assert before == after  # the full trace is not changed by building a view of it
