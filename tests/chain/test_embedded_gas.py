"""The embedded chain's gas estimate: enough for every transaction, close to the exact need."""

from __future__ import annotations

from typing import Any

import pytest
from eth.abc import SignedTransactionAPI, StateAPI
from eth.estimators.gas import binary_gas_search_exact

from scf_chain.chain import embedded
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.errors import ContractRevert
from tests.contracts.harness import build_system

DAY = 86_400


def test_estimates_cover_the_exact_need_of_every_operation_of_a_receivable_life(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pairs: list[tuple[int, int]] = []
    ours_estimate = embedded.estimate_gas

    def recording(state: StateAPI, transaction: SignedTransactionAPI) -> int:
        ours = ours_estimate(state, transaction)
        pairs.append((ours, int(binary_gas_search_exact(state, transaction))))
        return ours

    monkeypatch.setattr(embedded, "estimate_gas", recording)
    chain = EmbeddedChain()  # installs the (recording) estimator
    s = build_system(chain, holders=3)  # deploys: creations, role and limit settings, mints
    a, b, c = s.holders
    maturity = chain.now() + 30 * DAY
    slot = s.apply_and_confirm(a, 1_000_000, maturity, "inv-gas-1")
    token = s.first_token_of(slot)
    part = s.split(a, token, b, 300_000)
    s.split_many(a, token, [b, c, c], [1_000, 2_000, 3_000])
    s.transfer_token(b, c, part)
    offer_id, _ = s.offer(a, token, 100_000, 95_000, chain.now() + DAY)
    s.accept(offer_id)
    s.repay(slot, 400_000)
    chain.time_travel(31 * DAY)
    s.repay(slot, 600_000)
    s.redeem(token)
    s.redeem_batch([part])

    assert len(pairs) >= 25
    for ours, exact in pairs:
        assert exact <= ours <= exact * 104 // 100 + 2_400, (ours, exact)


def test_a_reverting_call_is_refused_at_estimation_with_its_error() -> None:
    chain = EmbeddedChain()
    s = build_system(chain, holders=2)
    a, b = s.holders
    slot = s.apply_and_confirm(a, 1_000, chain.now() + 30 * DAY, "inv-gas-2")
    token = s.first_token_of(slot)
    with pytest.raises(ContractRevert) as info:
        s.split(a, token, b, 5_000)  # more than the token holds: reverts in the estimate
    assert info.value.error_name == "InsufficientValue"


def test_a_plain_transfer_is_estimated_at_exactly_its_intrinsic_gas() -> None:
    chain = EmbeddedChain()
    a, b = chain.dev_accounts()[:2]
    tx: dict[str, Any] = {"from": a.address, "to": b.address, "value": 1}
    assert chain.w3.eth.estimate_gas(tx) == 21_000  # type: ignore[arg-type]
