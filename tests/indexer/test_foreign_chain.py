"""A node whose chain is not the indexed one (reset, another chain behind the URL, a reorg deeper
than SCF_MAX_REORG_DEPTH) stops the indexer and deletes nothing; a shallow reorg is undone."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select, update

from scf_chain.config import Settings
from scf_chain.db.models import Base, IndexedBlock, IndexerCursor, Token
from scf_chain.errors import DeploymentError, IndexerError, ReorgTooDeep
from scf_chain.indexer import Indexer, run_indexer
from tests.indexer.scenario import FACE, dump, run_scenario

OTHER_HASH = "0x" + "ab" * 32


def _idx(chain: Any, store: Any, dep: Any, **kw: Any) -> Indexer:
    return Indexer(chain, store.sessions, dep, confirmations=0, **kw)


def every_row(store: Any) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, block hashes included (what 'nothing deleted' means)."""
    out = {}
    with store.sessions() as s:
        for table in Base.metadata.sorted_tables:
            out[table.name] = sorted(tuple(repr(v) for v in r) for r in s.execute(select(table)))
    return out


def test_the_default_limit_is_64_blocks_and_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().max_reorg_depth == 64
    monkeypatch.setenv("SCF_MAX_REORG_DEPTH", "5")
    assert Settings().max_reorg_depth == 5
    with pytest.raises(IndexerError, match="max_reorg_depth"):
        Indexer(object(), None, None, confirmations=0, max_reorg_depth=-1)  # type: ignore[arg-type]


def test_a_reorg_deeper_than_the_limit_stops_the_indexer_and_deletes_nothing(
        store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    run_scenario(system)
    system.chain.mine_blocks(100)
    idx = _idx(system.chain, store, dep)
    idx.index_once()
    indexed = dump(store.sessions)
    cursor = idx.cursor()
    assert cursor is not None
    # the node's chain now leaves the stored one 100 blocks below the cursor
    with store.sessions() as s, s.begin():
        s.execute(update(IndexedBlock).where(IndexedBlock.number > cursor[0] - 100)
                  .values(hash=OTHER_HASH))
        s.execute(update(IndexerCursor).values(last_block_hash=OTHER_HASH))
    before = every_row(store)
    with pytest.raises(ReorgTooDeep, match=r"deeper than 64 blocks \(SCF_MAX_REORG_DEPTH\)"):
        idx.index_once()
    assert every_row(store) == before
    # the limit is what stopped it: allowed deeper, the same reorg is undone and re-ingested
    report = _idx(system.chain, store, dep, max_reorg_depth=128).index_once()
    assert report.reorg is not None and report.reorg.fork_block <= cursor[0] - 100
    assert dump(store.sessions) == indexed


def test_a_node_that_lost_the_indexed_blocks_is_refused(
        store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    chain = system.chain
    reset = chain.take_snapshot()  # the node as it was right after the deployment
    run_scenario(system)
    chain.mine_blocks(70)
    _idx(chain, store, dep).index_once()
    chain.revert_to_snapshot(reset)  # a reset node: the receivables' blocks are gone
    before = every_row(store)
    with pytest.raises(ReorgTooDeep, match="nothing was deleted"):
        _idx(chain, store, dep).index_once()
    # following the chain stops too, instead of retrying (and deleting) on the next poll
    stop = threading.Event()
    with pytest.raises(ReorgTooDeep):
        run_indexer(chain, store.sessions, dep, stop, poll_interval_s=0.01, confirmations=0)
    assert every_row(store) == before


def test_a_young_deployment_is_not_wiped_by_a_node_without_it(
        store, deployed) -> None:  # type: ignore[no-untyped-def]
    from scf_chain.chain.embedded import EmbeddedChain

    system, dep = deployed
    _idx(system.chain, store, dep).index_once()  # within 64 blocks of the deployment
    before = every_row(store)
    assert before["raw_events"]
    other = EmbeddedChain()  # same kind of node, none of our blocks or contracts
    try:
        with pytest.raises(DeploymentError, match="has no code on the node.*nothing was deleted"):
            _idx(other, store, dep).index_once()
    finally:
        other.close()
    assert every_row(store) == before


def test_a_shallow_reorg_after_a_long_batch_finds_its_exact_fork(
        store, deployed) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    chain = system.chain
    a, b, c = system.holders
    slot = system.apply_and_confirm(a, FACE, chain.now() + 60 * 86_400, "INV-DEEP")
    root = system.first_token_of(slot)
    chain.mine_blocks(300)  # indexed below in one batch: only its tail holds every block hash
    fork_snapshot = chain.take_snapshot()
    fork_block = chain.block_number()
    orphan = system.split(a, root, b, 300_000)
    chain.mine_blocks(2)
    idx = _idx(chain, store, dep)
    assert idx.index_once().batches == 1
    chain.revert_to_snapshot(fork_snapshot)
    kept = system.split(a, root, c, 500_000)
    chain.mine_blocks(3)
    report = idx.index_once()
    assert report.reorg is not None
    assert report.reorg.fork_block == fork_block  # exact: the split's block alone was undone
    assert report.reorg.events_removed > 0
    with store.sessions() as s:
        assert s.get(Token, orphan) is None or s.get(Token, orphan).owner != b.lower()  # type: ignore[union-attr]
        t = s.get(Token, kept)
        assert t is not None and t.owner == c.lower() and t.value == 500_000
        assert s.get(Token, root).value == 500_000  # type: ignore[union-attr]


def test_a_deep_reorg_is_a_503_at_the_gateway() -> None:
    from api.problems import problem_for

    status, code, *_ = problem_for(ReorgTooDeep("the node's chain does not hold ..."))
    assert (status, code) == (503, "chain_unavailable")


def test_a_node_that_redeployed_at_the_same_addresses_is_refused(
        store, deployed) -> None:  # type: ignore[no-untyped-def]
    # a reset dev node on which the same account deployed again: code at every manifest address,
    # a young store (within 64 blocks), and none of its blocks, the deployment's own included
    system, dep = deployed
    run_scenario(system)
    idx = _idx(system.chain, store, dep)
    idx.index_once()
    cursor = idx.cursor()
    assert cursor is not None and cursor[0] - dep.start_block < 64
    with store.sessions() as s, s.begin():
        s.execute(update(IndexedBlock).values(hash=OTHER_HASH))
        s.execute(update(IndexerCursor).values(last_block_hash=OTHER_HASH))
    before = every_row(store)
    with pytest.raises(DeploymentError, match="another deployment.*nothing was deleted"):
        idx.index_once()
    assert every_row(store) == before
