"""The indexer: complete, idempotent, restartable, reorg-safe; the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from scf_chain.db.models import (
    FundFlow,
    Holding,
    IndexerCursor,
    Offer,
    Participant,
    RawEvent,
    Receivable,
    Token,
)
from scf_chain.indexer import Indexer, Projector, index_once, run_indexer
from tests.indexer.scenario import FACE, dump, run_scenario


def _idx(chain, store, dep, **kw):  # type: ignore[no-untyped-def]
    return Indexer(chain, store.sessions, dep, confirmations=kw.pop("confirmations", 0), **kw)


def test_read_models_follow_the_scenario(store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    facts = run_scenario(system)
    report = _idx(system.chain, store, dep).index_once()
    assert report.caught_up and report.events > 0
    a, b, c = (h.lower() for h in system.holders)
    with store.sessions() as s:
        r = s.get(Receivable, facts.slot)
        assert r is not None
        assert (r.status, r.face_value, r.repaid, r.paid_out) == ("active", FACE, FACE, 800_000)
        assert r.settlement_token == system.erc20.address.lower()
        assert r.first_token_id == facts.root and r.creditor == a
        assert s.get(Receivable, facts.slot3_rejected).status == "rejected"  # type: ignore[union-attr]
        tokens = {t.token_id: t for t in s.scalars(select(Token).where(Token.slot == facts.slot))}
        assert tokens[facts.root].burned and tokens[facts.root].redeemed == 250_000
        assert tokens[facts.t_b].owner == b and tokens[facts.t_b].value == 200_000
        assert tokens[facts.t_b].parent_token_id == facts.root
        assert tokens[facts.t_c2].parent_token_id == facts.t_b
        assert tokens[facts.escrow_financed].owner == system.bank.lower()
        assert tokens[facts.escrow_cancelled].burned and tokens[facts.escrow_cancelled].value == 0
        live = sum(t.value for t in tokens.values())
        assert live == r.face_value - r.paid_out
        holdings = {h.address: h for h in s.scalars(select(Holding).where(Holding.slot == facts.slot))}
        assert holdings[b].value == 200_000 and holdings[b].token_count == 1
        assert holdings[c].value == 0 and holdings[c].token_count == 1  # t_c2 is empty, not burned
        assert s.get(Offer, facts.offer_financed).status == "accepted"  # type: ignore[union-attr]
        kinds = sorted(f.kind for f in s.scalars(select(FundFlow).where(FundFlow.slot == facts.slot)))
        assert kinds.count("financing") == 1 and kinds.count("repayment") == 2
        assert kinds.count("redemption") == 5 and "other" not in kinds
        roles = {p.address: p.roles for p in s.scalars(select(Participant))}
        assert roles[system.debtor.lower()] == 2 and roles[a] == 4


def test_rerun_over_the_same_range_adds_nothing(store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    run_scenario(system)
    _idx(system.chain, store, dep).index_once()
    before = dump(store.sessions)
    with store.sessions() as s, s.begin():
        s.execute(delete(IndexerCursor))  # as if the cursor were lost: the whole range again
    _idx(system.chain, store, dep, chunk_blocks=7).index_once()
    assert dump(store.sessions) == before


def test_unique_constraint_rejects_a_duplicate_event(store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    run_scenario(system, finish=False)
    _idx(system.chain, store, dep).index_once()
    with store.sessions() as s:
        row = s.scalars(select(RawEvent).limit(1)).one()
        dup = {c.name: getattr(row, c.name) for c in RawEvent.__table__.columns if c.name != "id"}
        with pytest.raises(IntegrityError):
            s.execute(insert(RawEvent), [dup])
            s.flush()


def test_kill_and_restart_equals_a_single_run(store, deployed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    run_scenario(system)
    # a single uninterrupted run
    _idx(system.chain, store, dep).index_once()
    single = dump(store.sessions, raw=False)
    single_raw = dump(store.sessions)["raw_events"]
    with store.sessions() as s, s.begin():
        for t in reversed(list(__import__("scf_chain.db.models", fromlist=["Base"]).Base.metadata.sorted_tables)):
            s.execute(t.delete())
    # stopped after two batches, then crashed in the middle of the fourth (before its commit)
    _idx(system.chain, store, dep, chunk_blocks=5).index_once(max_batches=2)
    real_apply = Projector.apply
    calls = {"n": 0}

    def crashing_apply(self, events, store_raw=True):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        real_apply(self, events, store_raw)
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed mid-batch")
        return len(events)

    monkeypatch.setattr(Projector, "apply", crashing_apply)
    with pytest.raises(KeyboardInterrupt):
        _idx(system.chain, store, dep, chunk_blocks=5).index_once()
    monkeypatch.setattr(Projector, "apply", real_apply)
    # a fresh process picks up at the last committed batch
    _idx(system.chain, store, dep, chunk_blocks=11).index_once()
    assert dump(store.sessions, raw=False) == single
    assert dump(store.sessions)["raw_events"] == single_raw


def test_confirmations_hold_back_the_newest_blocks(store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    run_scenario(system, finish=False)
    head = system.chain.block_number()
    idx = _idx(system.chain, store, dep, confirmations=3)
    report = idx.index_once()
    assert report.to_block == head - 3 and idx.cursor()[0] == head - 3  # type: ignore[index]
    with store.sessions() as s:
        assert s.scalar(select(func.max(RawEvent.block_number))) <= head - 3
    system.chain.mine_blocks(3)
    idx.index_once()
    with store.sessions() as s:
        assert s.scalar(select(func.max(RawEvent.block_number))) == head


def test_a_reader_whose_head_is_already_indexed_does_nothing(store, deployed) -> None:  # type: ignore[no-untyped-def]
    """`until`: a read after a write needs the store at the head it saw; another process that
    indexed that far (before or while this one waited for the lock) spares it a pass."""
    system, dep = deployed
    run_scenario(system, finish=False)
    seen = system.chain.block_number()
    other, reader = _idx(system.chain, store, dep), _idx(system.chain, store, dep)
    assert reader.index_once(until=seen).to_block == seen  # behind: it indexes
    system.chain.mine_blocks(4)  # the chain moves on after the reader saw its head
    report = reader.index_once(until=seen)
    assert (report.batches, report.from_block, report.caught_up) == (0, None, True)
    assert reader.cursor()[0] == seen  # type: ignore[index]  # not chased to the new head
    other.index_once()  # another process indexes the new blocks
    later = system.chain.block_number()
    assert reader.index_once(until=later).batches == 0 and reader.cursor()[0] == later  # type: ignore[index]
    system.chain.mine_blocks(2)
    assert reader.index_once(until=system.chain.block_number()).batches == 1  # behind again


def test_reorg_is_rolled_back_and_reingested(store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    chain = system.chain
    a, b, c = system.holders
    slot = system.apply_and_confirm(a, FACE, chain.now() + 60 * 86_400, "INV-R")
    root = system.first_token_of(slot)
    fork_snapshot = chain.take_snapshot()
    fork_block = chain.block_number()
    orphan = system.split(a, root, b, 300_000)
    system.repay(slot, 10_000)
    idx = _idx(chain, store, dep)
    idx.index_once()
    with store.sessions() as s:
        assert s.get(Token, orphan).owner == b.lower()  # type: ignore[union-attr]
    # the other branch: different transactions from the fork on, and a longer chain
    chain.revert_to_snapshot(fork_snapshot)
    kept = system.split(a, root, c, 500_000)
    chain.mine_blocks(3)
    report = idx.index_once()
    assert report.reorg is not None and report.reorg.fork_block <= fork_block
    assert report.reorg.events_removed > 0
    with store.sessions() as s:
        t = s.get(Token, kept)
        assert t is not None and t.owner == c.lower() and t.value == 500_000
        assert s.get(Token, root).value == 500_000  # type: ignore[union-attr]
        assert s.get(Receivable, slot).repaid == 0  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(FundFlow)) == 0
    reorged = dump(store.sessions)
    # identical to indexing the surviving chain from scratch
    with store.sessions() as s, s.begin():
        for t in reversed(list(__import__("scf_chain.db.models", fromlist=["Base"]).Base.metadata.sorted_tables)):
            s.execute(t.delete())
    index_once(chain, store.sessions, dep, confirmations=0)
    assert dump(store.sessions) == reorged


def test_run_indexer_follows_until_stopped(store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    stop = threading.Event()
    reports = []
    thread = threading.Thread(target=run_indexer, args=(system.chain, store.sessions, dep, stop),
                              kwargs={"poll_interval_s": 0.05, "confirmations": 0,
                                      "on_report": reports.append}, daemon=True)
    thread.start()
    try:
        facts = run_scenario(system, finish=False)
        head = system.chain.block_number()
        for _ in range(400):
            with store.sessions() as s:
                c = s.get(IndexerCursor, "default")
                if c is not None and c.last_block >= head:
                    break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    with store.sessions() as s:
        assert s.get(Receivable, facts.slot).repaid == 400_000  # type: ignore[union-attr]
