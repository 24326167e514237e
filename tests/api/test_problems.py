"""How contract refusals map to HTTP statuses (api/problems.py)."""

from __future__ import annotations

from api.problems import problem_for
from scf_chain.errors import ContractRevert


def test_a_token_out_of_approval_epochs_is_a_state_conflict() -> None:
    # a token whose owner changed 2**32 - 1 times can take no new approval: its state, not the
    # values sent, is the reason (409, like TokenInEscrow)
    status, code, _, _, extra = problem_for(ContractRevert("ApprovalEpochExhausted",
                                                           {"tokenId": 7}))
    assert (status, code) == (409, "contract_ApprovalEpochExhausted")
    assert extra["revert"] == {"error": "ApprovalEpochExhausted", "args": {"tokenId": "7"}}
