"""Collection allowances as a property: whatever a debtor with several receivables does in any
order (authorize or stop collection, repay by hand, overpay, finance someone else's receivable,
let the keeper collect), the keeper then collects every authorized matured receivable it can
afford, reports the ones it cannot, and no money appears or vanishes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scf_chain.chain import reverts
from scf_chain.chain.anvil import AnvilChain
from scf_chain.clients import Role
from scf_chain.config import Settings
from scf_chain.db.models import GatewayParticipant
from scf_chain.platform import operations
from scf_chain.platform.core import Platform

pytestmark = [pytest.mark.anvil, pytest.mark.xdist_group("money-properties")]
DAY = 86_400
_names = itertools.count()


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    """A platform on an anvil of its own: each example sends dozens of transactions (about
    20 ms each on eth-tester, 1 ms on anvil)."""
    chain = AnvilChain()
    p = Platform.open(Settings(), chain=chain)
    try:
        yield p
    finally:
        p.close()
        chain.close()


def _participant(p: Platform, prefix: str, roles: Role, funds: int = 0) -> GatewayParticipant:
    part, _ = p.create_participant(f"{prefix}-{next(_names)}", prefix, roles, dev_funds=funds)
    if roles & Role.DEBTOR:
        p.token(p.operator_account).set_credit_limit(part.address, 10**15)
    return part


def _receivable(p: Platform, debtor: GatewayParticipant, supplier: GatewayParticipant,
                face: int, maturity_in: int) -> tuple[int, int]:
    anchorer = next((x for x in p.participants() if x.name.startswith("anchorer-")), None)
    anchorer = anchorer or _participant(p, "anchorer", Role.ANCHORER)
    tag = f"{supplier.name}-{face}-{maturity_in}-{next(_names)}"
    key, fields_root = keccak(text=f"inv:{tag}"), keccak(text=f"f:{tag}")
    leaf = keccak(b"\x00" + keccak(key + fields_root))
    p.evidence_registry(anchorer).anchor(leaf, 3, 1)
    slot = p.token(supplier).apply_for(
        debtor.address, supplier.address, face, p.manifest.dev_settlement_token or "",
        p.chain.now() + maturity_in, key, fields_root, leaf, []).slot
    return slot, p.token(debtor).confirm(slot).token_id


@dataclass(frozen=True)
class Authorize:
    i: int
    enabled: bool


@dataclass(frozen=True)
class Repay:
    i: int
    fraction: float  # of what is outstanding; above 1 is an overpayment the contract refuses


@dataclass(frozen=True)
class Finance:
    price: int  # the debtor, also a financier, buys part of another debtor's receivable


@dataclass(frozen=True)
class KeeperPass:
    days: int  # time passes first (some receivables mature), then the keeper runs


STEP = st.one_of(
    st.builds(Authorize, st.integers(0, 3), st.booleans()),
    st.builds(Repay, st.integers(0, 3), st.floats(0.05, 1.3)),
    st.builds(Finance, st.integers(100, 5_000)),
    st.builds(KeeperPass, st.integers(0, 8)),
)


@settings(max_examples=16, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(faces=st.lists(st.integers(1_000, 10**6), min_size=2, max_size=4),
       steps=st.lists(STEP, min_size=1, max_size=10), affordable=st.booleans())
def test_keeper_collects_every_authorized_receivable_the_debtor_can_afford(
        platform: Platform, faces: list[int], steps: list[object], affordable: bool) -> None:
    p = platform
    prices_max = 5_000 * sum(isinstance(s, Finance) for s in steps)
    funds = sum(faces) + prices_max if affordable else sum(faces) // 2
    debtor = _participant(p, "debtor", Role.DEBTOR | Role.FINANCIER, funds)
    supplier = _participant(p, "supplier", Role.SUPPLIER)
    slots = [_receivable(p, debtor, supplier, face, (10 + 7 * i) * DAY)[0]
             for i, face in enumerate(faces)]
    other, other_supplier = (_participant(p, "other", Role.DEBTOR),
                             _participant(p, "osupplier", Role.SUPPLIER))
    _, other_token = _receivable(p, other, other_supplier, 10**6, 150 * DAY)
    money = p.money(p.operator_account)
    chain = p.token(p.operator_account)
    keeper = p.keeper()
    start = money.balance_of(debtor.address)
    financed = 0

    for step in steps:
        if isinstance(step, Authorize):
            slot = slots[step.i % len(slots)]
            operations.authorize_collection(p, debtor, slot, step.enabled)
        elif isinstance(step, Repay):
            slot = slots[step.i % len(slots)]
            owed = chain.get_receivable(slot).outstanding
            amount = max(1, int(owed * step.fraction))
            if amount > owed:
                with pytest.raises(reverts.Overpayment):
                    operations.repay(p, debtor, slot, amount)
            elif money.balance_of(debtor.address) >= amount:
                operations.repay(p, debtor, slot, amount)
        elif isinstance(step, Finance):
            if money.balance_of(debtor.address) < step.price:
                continue
            offer = p.token(other_supplier).offer(other_token, step.price, debtor.address,
                                                  step.price, p.chain.now() + DAY)
            operations.accept_offer(p, debtor, offer.offer_id)
            financed += step.price
        elif isinstance(step, KeeperPass):
            p.chain.time_travel(step.days * DAY)
            keeper.run_once()

    p.chain.time_travel(60 * DAY)  # every receivable of the debtor has matured
    report = keeper.run_once()

    recs = [chain.get_receivable(slot) for slot in slots]
    repaid = sum(r.repaid for r in recs)
    # money is conserved: what left the debtor is what it repaid and what it paid for financing
    assert start - money.balance_of(debtor.address) == repaid + financed
    # the allowance is exactly what is still owed on authorized receivables
    authorized = [r for r in recs if r.collect_enabled]
    assert money.allowance(debtor.address, p.manifest.receivable_token) == sum(
        r.outstanding for r in authorized)
    for r in recs:
        assert r.paid_out == r.repaid  # holders got everything that was paid
        collection = operations.settlement(p, r.slot).collection
        if not r.collect_enabled:
            assert collection.status == "not_authorized"
        elif r.outstanding == 0:
            assert collection.status == "collected" and r.slot not in report.stalled
        else:  # the debtor ran out of money: reported, with the reason, never silent
            assert money.balance_of(debtor.address) == 0 and not affordable
            assert collection.status == "stalled" and collection.reason == "balance_short"
            assert collection.shortfall == r.outstanding and r.slot in report.stalled
