"""How contract refusals map to HTTP statuses (api/problems.py)."""

from __future__ import annotations

import pytest

from api.problems import REVERT_STATUS, problem_for
from scf_chain.chain import reverts
from scf_chain.contracts import artifacts
from scf_chain.errors import ArtifactError, ContractRevert


def test_a_token_out_of_approval_epochs_is_a_state_conflict() -> None:
    # a token whose owner changed 2**32 - 1 times can take no new approval: its state, not the
    # values sent, is the reason (409, like TokenInEscrow)
    status, code, _, _, extra = problem_for(ContractRevert("ApprovalEpochExhausted",
                                                           {"tokenId": 7}))
    assert (status, code) == (409, "contract_ApprovalEpochExhausted")
    assert extra["revert"] == {"error": "ApprovalEpochExhausted", "args": {"tokenId": "7"}}


def test_every_contract_error_has_exactly_one_status_and_no_other_name_does() -> None:
    abi_errors = {item["name"] for abi in artifacts.all_abis() for item in abi
                  if item.get("type") == "error"}
    assert abi_errors == set(reverts.CONTRACT_ERRORS)  # the generated list is the ABIs'
    contract_part = set(REVERT_STATUS) - reverts.SYNTHETIC_ERRORS
    assert sorted(abi_errors - contract_part) == [], "contract errors without a status"
    assert sorted(contract_part - abi_errors) == [], "statuses for errors no ABI declares"
    assert reverts.SYNTHETIC_ERRORS <= set(REVERT_STATUS)
    assert set(REVERT_STATUS.values()) <= {403, 409, 422}


def test_the_statuses_of_contract_errors_are_kept() -> None:
    # 403: the caller may not; 409: the state forbids it; the rest: the values sent (422)
    assert problem_for(ContractRevert("NotDebtor"))[0] == 403
    assert problem_for(ContractRevert("InsufficientAllowance"))[0] == 403
    assert problem_for(ContractRevert("TokenInEscrow"))[0] == 409
    assert problem_for(ContractRevert("EnforcedPause"))[0] == 409
    assert problem_for(ContractRevert("Overpayment"))[0] == 422
    assert problem_for(ContractRevert("Panic"))[0] == 422
    assert sum(s == 403 for s in REVERT_STATUS.values()) == 15
    assert sum(s == 409 for s in REVERT_STATUS.values()) == 16


def test_an_unknown_revert_name_is_refused() -> None:
    with pytest.raises(AttributeError, match="NotDebtr"):
        reverts.NotDebtr  # noqa: B018  (a misspelt name used to make a class that never matched)
    with pytest.raises(ImportError):
        exec("from scf_chain.chain.reverts import NotDebtr", {})
    with pytest.raises(AttributeError):
        reverts.revert_class("NothingOwed")
    assert reverts.NotDebtor is reverts.revert_class("NotDebtor")
    with pytest.raises(ArtifactError, match="NotInTheList"):
        reverts.ErrorDecoder([[{"type": "error", "name": "NotInTheList", "inputs": []}]])
