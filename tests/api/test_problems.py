"""How the core's errors and contract refusals map to HTTP statuses (api/problems.py)."""

from __future__ import annotations

import pytest

from api.problems import REVERT_STATUS, STATUS, problem_for
from scf_chain import errors
from scf_chain.chain import reverts
from scf_chain.contracts import artifacts
from scf_chain.errors import ArtifactError, ContractRevert, Kind


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
    # a debtor's move to a new key: not offered yet or nothing owed is the state; itself, a value
    assert problem_for(ContractRevert("NoDebtorSuccessor"))[0] == 409
    assert problem_for(ContractRevert("DebtNotOpen"))[0] == 409
    assert problem_for(ContractRevert("InvalidSuccessor"))[0] == 422
    assert sum(s == 403 for s in REVERT_STATUS.values()) == 15
    assert sum(s == 409 for s in REVERT_STATUS.values()) == 18


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


# Every error of the core with the problem the gateway answers for it (a new error must be added
# here, with the status it should have; none falls through to a 500 by accident).
_REASON = errors.GateReason("debtor_over_limit", "over the limit")
ANSWERS: list[tuple[errors.ScfError, int, str]] = [
    (errors.ConfigError("x"), 500, "internal_error"),
    (errors.CompileError("x"), 500, "internal_error"),
    (errors.ArtifactError("x"), 500, "internal_error"),
    (errors.KeyStoreError("x"), 500, "keystore_error"),
    (errors.StoreSchemaError("x"), 500, "internal_error"),
    (errors.DataDirLocked("x"), 500, "internal_error"),
    (errors.IndexerError("x"), 500, "internal_error"),
    (errors.ChainError("x"), 503, "chain_unavailable"),
    (errors.DeploymentError("x"), 503, "chain_unavailable"),
    (errors.ReorgTooDeep("x"), 503, "chain_unavailable"),
    (errors.TransactionTimeout("x"), 504, "outcome_unknown"),
    (errors.InsufficientGas("0xabc", 10, 1, "x"), 409, "insufficient_gas"),
    (errors.ContractRevert("NotDebtor"), 403, "contract_NotDebtor"),
    (errors.AuditError("x"), 404, "not_found"),
    (errors.EvidenceError("x"), 422, "evidence_invalid"),
    (errors.TamperedEvidence("x"), 422, "evidence_tampered"),
    (errors.CrossDocumentMismatch("amount_mismatch", "x"), 422, "amount_mismatch"),
    (errors.DocumentNotFound("x"), 404, "document_not_found"),
    (errors.DocumentAccessDenied("x"), 403, "document_access_denied"),
    (errors.DocumentTampered("x"), 500, "document_tampered"),
    (errors.EvidenceRequestError("document_invalid", "x"), 422, "document_invalid"),
    (errors.EvidenceRequestForbidden("not_a_party", "x"), 403, "not_a_party"),
    (errors.EvidenceRequestNotFound("document_not_found", "x"), 404, "document_not_found"),
    (errors.EvidenceRequestConflict("document_exists", "x"), 409, "document_exists"),
    (errors.ParticipantError("invalid_name", "x"), 422, "invalid_name"),
    (errors.ParticipantConflict("participant_exists", "x"), 409, "participant_exists"),
    (errors.ParticipantConflict("address_taken", "x"), 409, "address_taken"),
    (errors.CustodyError("wrong_signer", "x", signer="0xabc"), 422, "wrong_signer"),
    (errors.CustodyConflict("prepared_stale", "x"), 409, "prepared_stale"),
    (errors.CustodyNotFound("prepared_not_found", "x"), 404, "prepared_not_found"),
    (errors.ExternalSignerRequired("bank"), 409, "external_signer_required"),
    (errors.SignatureRequired({"prepared_id": "p1"}, True), 409, "signature_required"),
    # the SDK's own (a client: never raised inside the gateway)
    (errors.GatewayError(404, {"code": "not_found"}), 422, "not_found"),
    (errors.PreparedTransactionRefused("x"), 403, "prepared_transaction_refused"),
    (errors.Conflict("nothing_due", "x"), 409, "nothing_due"),
    (errors.NotFound("x"), 404, "not_found"),
    (errors.AuthError("x"), 401, "unauthorized"),
    (errors.IdempotencyConflict("idempotency_key_in_use", "x"), 409, "idempotency_key_in_use"),
    (errors.IdempotencyKeyInvalid("idempotency_key_reused", "x"), 422, "idempotency_key_reused"),
    (errors.OutcomePending("x", []), 503, "outcome_pending"),
    (errors.OutcomeDiverged("x", []), 409, "outcome_diverged"),
    (errors.RiskError("x"), 422, "invalid"),
    (errors.RiskDataError("x"), 422, "invalid"),
    (errors.RiskModelError("x"), 503, "risk_model_unavailable"),
    (errors.PolicyInvalid("x"), 422, "risk_policy_invalid"),
    (errors.RiskGateBlocked("debtor_exposure", [_REASON]), 422, "risk_gate_blocked"),
    (errors.AlertNotFound(7), 404, "alert_not_found"),
    (errors.AlertTransitionError(7, "dismissed", "confirm", "confirmed"), 409,
     "alert_transition_invalid"),
]
KINDS = (errors.InvalidError, errors.UnauthorizedError, errors.ForbiddenError,
         errors.NotFoundError, errors.ConflictError, errors.UnavailableError,
         errors.TimedOutError, errors.InternalError)


def test_every_error_of_the_core_keeps_its_status_and_code() -> None:
    concrete = {type(e) for e, _, _ in ANSWERS}
    tree = {c for c in vars(errors).values() if isinstance(c, type)
            and issubclass(c, errors.ScfError) and c not in (errors.ScfError, *KINDS)}
    assert sorted(c.__name__ for c in tree - concrete) == [], "errors without a pinned answer"
    for exc, status, code in ANSWERS:
        assert problem_for(exc)[:2] == (status, code), type(exc).__name__


def test_every_kind_has_a_status_and_a_new_error_of_any_kind_gets_it() -> None:
    assert set(STATUS) | {Kind.REVERTED} == set(Kind)
    assert {k.kind for k in KINDS} == set(STATUS)
    for kind in KINDS:
        novel = type("Novel" + kind.__name__, (kind,), {})  # as a helper adding an error would
        status, code, title, _, _ = problem_for(novel("something went wrong"))
        assert status == STATUS[kind.kind] and code == kind.code and title == kind.title
        if kind is not errors.InternalError:  # our own faults are 500 on purpose, and only they
            assert 400 <= status < 500 or status in (503, 504), kind


def test_our_own_faults_do_not_leak_their_message() -> None:
    _, _, _, detail, _ = problem_for(errors.DocumentTampered("document 'x' fails authentication"))
    assert detail == "see the server log"


def test_facts_of_an_error_become_members_of_its_problem() -> None:
    _, _, _, _, extra = problem_for(errors.RiskGateBlocked("debtor_exposure", [_REASON]))
    assert extra == {"gate": "debtor_exposure",
                     "reasons": [{"code": "debtor_over_limit", "text": "over the limit"}]}
    _, _, _, detail, extra = problem_for(errors.InsufficientGas("0xabc", 10, 1, "x"))
    assert extra == {"address": "0xabc", "balance_wei": "1", "needed_wei": "10"}
    assert "POST /dev/fund" in detail
    assert problem_for(errors.AlertTransitionError(7, "dismissed", "confirm", "confirmed")
                       )[4] == {"alert_status": "dismissed"}
