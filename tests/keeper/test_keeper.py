"""The keeper pays every holder exactly its pro-rata share once: after crashes, with rivals, late."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from scf_chain import db
from scf_chain.db.models import KeeperAction
from scf_chain.devnet import DevNet
from scf_chain.indexer import Indexer
from scf_chain.keeper import Keeper

DAY = 86_400
HOLDERS = ("supplier-a", "supplier-b", "supplier-c", "bank")
pytestmark = pytest.mark.xdist_group(__name__)


def _store(tmp: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp}/k.db"
    db.upgrade(url)
    return db.session_factory(db.make_engine(url))


@pytest.fixture()
def since(net: DevNet) -> int:
    """The test's first block: its keepers index from there. The session's chain holds the blocks
    of every test that ran before on this worker, and eth-tester finds logs by reading every
    transaction in the range: indexing from the deployment made a keeper test's time grow with
    its place in the run (minutes, late in a run). The receivables a test pays are its own."""
    return net.chain.block_number() + 1


def _keeper(net: DevNet, sessions, since: int, keeper_id: str = "k1",  # type: ignore[no-untyped-def]
            name: str = "keeper", **kw) -> Keeper:
    deployment = net.manifest.model_copy(update={"start_block": since})
    indexer = Indexer(net.chain, sessions, deployment, confirmations=0)
    return Keeper(net.token(name), sessions, keeper_id, before_index=indexer.index_once, **kw)


def _receivable(net: DevNet, face: int, shares: list[int], tag: str) -> tuple[int, list[int]]:
    """A confirmed receivable of supplier-a split so that holder i holds shares[i] (i<3: suppliers)."""
    key, fields_root = keccak(text=f"inv:{tag}"), keccak(text=f"f:{tag}")
    leaf = keccak(b"\x00" + keccak(key + fields_root))
    net.evidence("logistics").anchor(leaf, 3, 1)
    a = net.token("supplier-a")
    slot = a.apply_for(net.address("core"), net.address("supplier-a"), face,
                       net.manifest.dev_settlement_token or "", net.chain.now() + 30 * DAY, key,
                       fields_root, leaf, []).slot
    first = net.token("core").confirm(slot).token_id
    tokens = [first]
    for name, value in zip(HOLDERS[1:], shares[1:], strict=True):
        if value:
            tokens.append(a.split(first, net.address(name), value).to_token_id)
    return slot, tokens


def _balances(net: DevNet) -> dict[str, int]:
    money = net.settlement("operator")
    return {n: money.balance_of(net.address(n)) for n in HOLDERS}


def _paid(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {n: after[n] - before[n] for n in before}


def test_keeper_collects_at_maturity_and_pays_everyone_pro_rata(net: DevNet, since: int, tmp_path: Path) -> None:
    sessions = _store(tmp_path)
    slot, tokens = _receivable(net, 1_000_000, [500_000, 300_000, 200_000, 0], "k1")
    core = net.token("core")
    net.settlement("core").approve(net.manifest.receivable_token, 1_000_000)
    core.authorize_collection(slot)
    keeper = _keeper(net, sessions, since)
    assert keeper.run_once().idle  # not matured yet: nothing happens
    net.chain.time_travel(31 * DAY)
    before = _balances(net)
    report = keeper.run_once()
    assert report.collected == {slot: 1_000_000} and report.redeemed == {slot: 1_000_000}
    assert _paid(before, _balances(net)) == {"supplier-a": 500_000, "supplier-b": 300_000,
                                             "supplier-c": 200_000, "bank": 0}
    with sessions() as s:
        actions = s.scalars(select(KeeperAction).order_by(KeeperAction.id)).all()
    assert [a.action for a in actions] == ["collect", "redeem_batch"]
    assert all(a.tx_hash and a.tx_hash.startswith("0x") for a in actions)
    assert keeper.run_once().idle  # settled: nothing left


def test_keeper_killed_mid_batch_resumes_and_finishes(net: DevNet, since: int, tmp_path: Path) -> None:
    sessions = _store(tmp_path)
    slot, _ = _receivable(net, 999_999, [333_333, 333_333, 333_333, 0], "k2")
    net.settlement("core").approve(net.manifest.receivable_token, 999_999)
    net.token("core").authorize_collection(slot)
    net.chain.time_travel(31 * DAY)
    before = _balances(net)
    crashing = _keeper(net, sessions, since, batch_size=1)

    def crash(_slot: int, _batch: list[int]) -> None:
        raise KeyboardInterrupt("killed")

    crashing.after_batch = crash
    with pytest.raises(KeyboardInterrupt):
        crashing.run_once()
    assert sum(_paid(before, _balances(net)).values()) == 333_333  # one holder paid, then killed
    _keeper(net, sessions, since, "k-restarted", batch_size=1).run_once()
    paid = _paid(before, _balances(net))
    assert paid == {"supplier-a": 333_333, "supplier-b": 333_333, "supplier-c": 333_333, "bank": 0}


@pytest.mark.parametrize("lease_s", [120.0, 0.0])
def test_two_keepers_at_once_never_pay_twice(net: DevNet, since: int, tmp_path: Path, lease_s: float) -> None:
    sessions = _store(tmp_path)
    slots = [_receivable(net, 600_000 + i, [200_000 + i, 200_000, 200_000, 0], f"k3-{i}-{lease_s}")[0]
             for i in range(3)]
    net.settlement("core").approve(net.manifest.receivable_token, 10**9)
    for slot in slots:
        net.token("core").authorize_collection(slot)
    net.chain.time_travel(31 * DAY)
    before = _balances(net)
    keepers = [_keeper(net, sessions, since, f"k{i}", name, batch_size=2, lease_s=lease_s)
               for i, name in enumerate(("keeper", "operator"))]
    errors: list[BaseException] = []

    def run(k: Keeper) -> None:
        try:
            k.run_once()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in keepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    keepers[0].run_once()  # whatever a lost race left over
    paid = _paid(before, _balances(net))
    assert paid["supplier-a"] == 600_003 and paid["supplier-b"] == paid["supplier-c"] == 600_000
    for slot in slots:
        rec = net.token("operator").get_receivable(slot)
        assert rec.paid_out == rec.repaid == rec.face_value


@pytest.mark.anvil
@pytest.mark.xdist_group("money-properties")
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(face=st.integers(10, 10**9), cuts=st.lists(st.floats(0.01, 0.99), min_size=2, max_size=2),
       payments=st.lists(st.tuples(st.floats(0.01, 1.0), st.booleans()), min_size=1, max_size=4))
def test_partial_and_late_payments_reach_every_holder_exactly(
        devnet_on_anvil: DevNet, tmp_path_factory: pytest.TempPathFactory, face: int,
        cuts: list[float], payments: list[tuple[float, bool]]) -> None:
    """Σ paid == Σ repaid after every run; each holder gets floor-pro-rata; full repayment clears all.

    On anvil: each example sends a dozen transactions and makes a hundred reads."""
    net = devnet_on_anvil
    snap = net.chain.take_snapshot()
    since = net.chain.block_number() + 1
    try:
        sessions = _store(tmp_path_factory.mktemp("kp"))
        b = max(1, int(face * cuts[0] * 0.5))
        c = max(1, int((face - b) * cuts[1] * 0.5))
        a = face - b - c
        slot, _ = _receivable(net, face, [a, b, c, 0], f"p{face}-{b}-{c}")
        core = net.token("core")
        net.settlement("core").approve(net.manifest.receivable_token, 10**12)
        keeper = _keeper(net, sessions, since)
        before = _balances(net)
        token_contract = net.manifest.receivable_token
        money = net.settlement("operator")
        matured = False
        for frac, after_maturity in payments:
            if after_maturity and not matured:
                net.chain.time_travel(31 * DAY)
                matured = True
            rec = core.get_receivable(slot)
            amount = min(rec.outstanding, max(1, int(face * frac / len(payments))))
            if amount:
                core.repay(slot, amount)
            if matured:
                keeper.run_once()
                rec = core.get_receivable(slot)
                paid = sum(_paid(before, _balances(net)).values())
                assert paid == rec.paid_out <= rec.repaid
                assert money.balance_of(token_contract) == rec.repaid - rec.paid_out
        if not matured:
            net.chain.time_travel(31 * DAY)
        rec = core.get_receivable(slot)
        if rec.outstanding:
            core.repay(slot, rec.outstanding)
        keeper.run_once()
        rec = core.get_receivable(slot)
        assert rec.paid_out == rec.repaid == face
        assert _paid(before, _balances(net)) == {"supplier-a": a, "supplier-b": b,
                                                 "supplier-c": c, "bank": 0}
        assert money.balance_of(token_contract) == 0
    finally:
        net.chain.revert_to_snapshot(snap)


def test_a_collection_the_keeper_cannot_finish_is_recorded_with_its_reason(
        net: DevNet, since: int, tmp_path: Path) -> None:
    sessions = _store(tmp_path)
    slot, _ = _receivable(net, 1_000_000, [1_000_000, 0, 0, 0], "k-stall")
    spender = net.manifest.receivable_token
    net.settlement("core").approve(spender, 250_000)  # short of what is owed
    net.token("core").authorize_collection(slot)
    net.chain.time_travel(31 * DAY)
    clock = iter(range(1_000, 10_000, 10))
    keeper = _keeper(net, sessions, since, clock=lambda: float(next(clock)))
    first = keeper.run_once()
    assert first.collected == {slot: 250_000} and first.redeemed == {slot: 250_000}
    assert first.stalled[slot].startswith("allowance_short: ")
    assert "(0) is short of the 750000 outstanding by 750000" in first.stalled[slot]

    def actions() -> list[KeeperAction]:
        with sessions() as s:
            return list(s.scalars(select(KeeperAction).order_by(KeeperAction.id)))

    assert [a.action for a in actions()] == ["collect", "collect_stalled", "redeem_batch"]
    stall = actions()[1]
    assert stall.amount == 750_000 and stall.tx_hash is None
    second = keeper.run_once()  # NothingToCollect now: the same stall, not a new row
    assert second.stalled == first.stalled and not second.collected
    assert [a.action for a in actions()] == ["collect", "collect_stalled", "redeem_batch"]
    assert actions()[1].at > stall.at  # its time is the last attempt
    assert keeper.collections_stalled_total == 2
    # the debtor has money but too small an allowance; raised, the next pass collects the rest
    net.settlement("core").approve(spender, 750_000)
    third = keeper.run_once()
    assert third.collected == {slot: 750_000} and not third.stalled
    assert net.token("core").get_receivable(slot).paid_out == 1_000_000


def test_a_debtor_without_money_stalls_with_balance_short(net: DevNet, since: int, tmp_path: Path) -> None:
    sessions = _store(tmp_path)
    slot, _ = _receivable(net, 500_000, [500_000, 0, 0, 0], "k-broke")
    core = net.address("core")
    spender = net.manifest.receivable_token
    net.settlement("core").approve(spender, 10**12)
    net.token("core").authorize_collection(slot)
    keep = 200_000
    net.settlement("core").transfer(net.address("bank"), net.settlement("core").balance_of(core)
                                    - keep)
    net.chain.time_travel(31 * DAY)
    keeper = _keeper(net, sessions, since)
    report = keeper.run_once()
    assert report.collected == {slot: keep}
    assert report.stalled[slot].startswith("balance_short: the debtor's balance (0) is short "
                                           "of the 300000 outstanding by 300000")
    rec = net.token("core").get_receivable(slot)
    assert keeper.stall_reason(rec, None) == ("balance_short", 300_000, report.stalled[slot]
                                              .removeprefix("balance_short: "))
