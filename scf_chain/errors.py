"""The package's exception tree: one root, a few kinds, every error in this module.

Each error is one `Kind` (what went wrong, as a caller sees it: the values, the caller, the
state, a dependency, ourselves), has a stable `code` (machine-readable; some errors set it per
instance) and a short `title`, and is also the builtin it refines, so callers may catch either
(`except LookupError` catches every `NotFoundError`). An error that crosses kinds lists its kind
first (`class DocumentNotFound(NotFoundError, EvidenceError)`): the first kind in its MRO wins.

Nothing here knows HTTP: the gateway maps kinds to statuses in one table (api/problems.py).
Contract reverts are the one exception to "every error in this module": their classes are
generated per Solidity custom error (scf_chain.chain.reverts), all under `ContractRevert`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar


class Kind(enum.Enum):
    """What kind of failure an error is, from the caller's side."""

    INVALID = "invalid"  # the values given are wrong; the same request will fail again
    UNAUTHORIZED = "unauthorized"  # who asks is unknown (no, bad or revoked credentials)
    FORBIDDEN = "forbidden"  # who asks is known and may not do this
    NOT_FOUND = "not_found"  # the named thing does not exist (or may not be known to exist)
    CONFLICT = "conflict"  # valid, but the current state does not allow it
    UNAVAILABLE = "unavailable"  # a dependency (chain, model) cannot serve now; retry later
    TIMED_OUT = "timed_out"  # sent but not confirmed in time: the outcome is unknown
    INTERNAL = "internal"  # our own fault (settings, artifacts, keystore, corrupt data)
    REVERTED = "reverted"  # a contract refused: the kind depends on its Solidity error's name


class ScfError(Exception):
    """Root of every error raised by scf_chain. Subclass a kind below, never this root: a class
    without a kind is refused when it is defined, so no error is left without one."""

    kind: ClassVar[Kind]
    code: str
    title: ClassVar[str]

    def __init__(self, *args: object, code: str | None = None) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not hasattr(cls, "kind"):
            raise TypeError(f"{cls.__name__} must derive from one kind of ScfError "
                            "(InvalidError, NotFoundError, ConflictError, ...)")

    def facts(self) -> dict[str, Any]:
        """Machine-readable values describing this error, beside its message (none by default)."""
        return {}


# -- the kinds ------------------------------------------------------------------------------------

class InvalidError(ScfError, ValueError):
    kind = Kind.INVALID
    code, title = "invalid", "The request is invalid"


class UnauthorizedError(ScfError, PermissionError):
    kind = Kind.UNAUTHORIZED
    code, title = "unauthorized", "Authentication required"


class ForbiddenError(ScfError, PermissionError):
    kind = Kind.FORBIDDEN
    code, title = "forbidden", "Not allowed"


class NotFoundError(ScfError, LookupError):
    kind = Kind.NOT_FOUND
    code, title = "not_found", "Not found"


class ConflictError(ScfError, RuntimeError):
    kind = Kind.CONFLICT
    code, title = "conflict", "Not possible in the current state"


class UnavailableError(ScfError, RuntimeError):
    kind = Kind.UNAVAILABLE
    code, title = "unavailable", "A service is unavailable"


class TimedOutError(ScfError, TimeoutError):
    kind = Kind.TIMED_OUT
    code, title = "outcome_unknown", "Not confirmed in time"


class InternalError(ScfError):
    kind = Kind.INTERNAL
    code, title = "internal_error", "Internal server error"


# -- set-up: settings, contracts, keys, the store ------------------------------------------------

class ConfigError(InternalError, ValueError):
    """Settings are missing or inconsistent."""


class CompileError(InternalError, RuntimeError):
    """The Solidity compiler reported errors; `errors` holds (file, line, message) triples."""

    def __init__(self, message: str, errors: list[tuple[str, int, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class ArtifactError(InternalError, RuntimeError):
    """A committed contract artifact is missing or stale."""


class KeyStoreError(InternalError, ValueError):
    """A key is missing, or a keystore cannot be decrypted."""

    code, title = "keystore_error", "Signing key unavailable"


class StoreSchemaError(InternalError, RuntimeError):
    """The store's tables do not match its recorded migration revision (a store whose creation
    was cut off before migrations were atomic, or one this release does not know); nothing was
    changed, and the message says what to do."""


class DataDirLocked(InternalError, RuntimeError):
    """Another process holds the gateway lock of this data folder (one gateway per keystore)."""


# -- the chain --------------------------------------------------------------------------------------

class ChainError(UnavailableError):
    """The chain backend failed (node not reachable, not started, bad response)."""

    code, title = "chain_unavailable", "The chain is unavailable"


class TransactionTimeout(TimedOutError, ChainError):
    """A transaction was not mined within the allowed time (it may still be)."""

    code, title = "outcome_unknown", "The chain did not confirm in time"


class InsufficientGas(ConflictError, ChainError):
    """The node refused a transaction because its sender cannot pay for the gas (and value):
    nothing was sent. `address` is the sender, `needed_wei` what the transaction could cost at
    most (0 when unknown), `balance_wei` what the sender holds."""

    code, title = "insufficient_gas", "The signing account cannot pay for gas"

    def __init__(self, address: str, needed_wei: int, balance_wei: int, message: str) -> None:
        super().__init__(message)
        self.address, self.needed_wei, self.balance_wei = address, needed_wei, balance_wei

    def facts(self) -> dict[str, Any]:
        return {"address": self.address, "balance_wei": self.balance_wei,
                "needed_wei": self.needed_wei}


class DeploymentError(UnavailableError):
    """A deployment manifest is missing, belongs to another chain, or does not match."""

    code, title = "chain_unavailable", "The chain is unavailable"


class ContractRevert(ScfError, RuntimeError):
    """A contract call reverted. Subclasses are generated per Solidity custom error.

    `error_name` is the Solidity error name (or "Error" for a reason string, "Panic" for a panic),
    `args` the decoded arguments by name, `tx_hash` the transaction if one was sent; `code` is
    `contract_<error_name>`.
    """

    kind = Kind.REVERTED
    title = "The contract refused the operation"
    error_name: str = "Error"

    def __init__(
        self,
        error_name: str,
        args: dict[str, Any] | None = None,
        message: str | None = None,
        tx_hash: str | None = None,
    ) -> None:
        self.error_name = error_name
        self.error_args = dict(args or {})
        self.tx_hash = tx_hash
        shown = ", ".join(f"{k}={v!r}" for k, v in self.error_args.items())
        super().__init__(message or f"{error_name}({shown})", code="contract_" + error_name)

    def facts(self) -> dict[str, Any]:
        return {"revert": {"error": self.error_name, "args": self.error_args},
                "tx_hash": self.tx_hash}


# -- indexer and audit ------------------------------------------------------------------------------

class IndexerError(InternalError, RuntimeError):
    """The indexer cannot proceed (inconsistent cursor, concurrent writer, unknown token)."""


class ReorgTooDeep(UnavailableError, IndexerError):
    """The node's chain leaves the indexed one further back than the indexer may undo: a reset
    node or another chain behind the same URL, more likely than a reorg that deep."""

    code, title = "chain_unavailable", "The chain is unavailable"


class AuditError(NotFoundError):
    """An audit query names something the store does not hold (unknown slot, participant)."""


# -- evidence -----------------------------------------------------------------------------------------

class EvidenceError(InvalidError):
    """Evidence is malformed, inconsistent or fails verification."""

    code, title = "evidence_invalid", "Evidence problem"


class TamperedEvidence(EvidenceError):
    """A field, salt or proof does not match what was committed."""

    code = "evidence_tampered"


class CrossDocumentMismatch(EvidenceError):
    """The documents do not describe one trade; `code` says how."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class DocumentNotFound(NotFoundError, EvidenceError):
    """No stored document has this id."""

    code, title = "document_not_found", EvidenceError.title


class DocumentAccessDenied(ForbiddenError, EvidenceError):
    """The document exists, and the reader is not one of its parties."""

    code, title = "document_access_denied", EvidenceError.title


class DocumentTampered(InternalError, EvidenceError):
    """A stored document (or its metadata or wrapped key) fails authentication: the store was
    changed outside this program."""

    code, title = "document_tampered", EvidenceError.title


class EvidenceRequestError(EvidenceError):
    """A participant's evidence request is refused; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class EvidenceRequestForbidden(ForbiddenError, EvidenceRequestError):
    """The participant may not submit or read this document."""

    title = EvidenceError.title


class EvidenceRequestNotFound(NotFoundError, EvidenceRequestError):
    """No document with this id is visible to the participant."""

    title = EvidenceError.title


class EvidenceRequestConflict(ConflictError, EvidenceRequestError):
    """The documents' state does not allow the request (already submitted, not anchored yet)."""

    title = EvidenceError.title


# -- the platform: participants, API keys, idempotency ----------------------------------------------

class ParticipantError(InvalidError):
    """A participant request is invalid (bad name, unknown role, reserved name); `code` says why."""

    title = "Invalid participant request"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class ParticipantConflict(ConflictError, ParticipantError):
    """The name or the address is a participant's already (`participant_exists`,
    `address_taken`)."""

    title = ParticipantError.title


class Conflict(ConflictError):
    """The request is valid but the state does not allow it now; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class NotFound(NotFoundError):
    """The named resource does not exist (or the caller may not know it exists)."""


class AuthError(UnauthorizedError):
    """A request's credentials are missing, malformed, unknown or revoked."""


class IdempotencyConflict(ConflictError):
    """The key is in use: by a request still running, by another request, or its outcome is
    unknown; `code` says which."""

    title = "Idempotency-Key conflict"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class IdempotencyKeyInvalid(InvalidError, IdempotencyConflict):
    """The key itself is refused: malformed, or already used for a different request."""

    title = IdempotencyConflict.title


class OutcomePending(UnavailableError):
    """A request's transactions may have reached the chain but it has no answer yet: the key
    stays claimed, and a retry with the same key resolves it."""

    code, title = "outcome_pending", "The outcome is not known yet"

    def __init__(self, message: str, tx_hashes: list[str]) -> None:
        super().__init__(message)
        self.tx_hashes = tx_hashes

    def facts(self) -> dict[str, Any]:
        return {"tx_hashes": self.tx_hashes}


class OutcomeDiverged(ConflictError):
    """A request cut off after some of its transactions were mined cannot be finished: run again,
    it asks for a different transaction than the one journaled (what it reads has changed).
    Nothing more is sent; `mined` lists what happened."""

    code, title = "outcome_diverged", "The request cannot be finished as it began"

    def __init__(self, reason: str, mined: list[dict[str, Any]]) -> None:
        shown = ", ".join(f"{m['tx_hash']} ({'succeeded' if m['succeeded'] else 'reverted'} in "
                          f"block {m['block_number']})" for m in mined) or "none"
        super().__init__(f"{reason}; transactions of the first attempt that were mined: {shown}. "
                         "Nothing was sent again: check the resources' state before a new "
                         "request with a new Idempotency-Key")
        self.reason = reason
        self.mined = mined

    def facts(self) -> dict[str, Any]:
        return {"mined": self.mined}


# -- custody: participants that sign their own transactions --------------------------------------

class CustodyError(InvalidError):
    """A prepare or submit that cannot go on; `code` says why, `facts` add what the client
    needs (the signer found, the fields that differ)."""

    title = "Self-signed transaction problem"

    def __init__(self, code: str, message: str, **facts: Any) -> None:
        super().__init__(message, code=code)
        self._facts = facts

    def facts(self) -> dict[str, Any]:
        return dict(self._facts)


class CustodyConflict(ConflictError, CustodyError):
    """The prepared transaction no longer fits (stale, expired, its nonce used), or the request
    is not one to prepare or submit."""

    title = CustodyError.title


class CustodyNotFound(NotFoundError, CustodyError):
    """No prepared transaction has this id."""

    title = CustodyError.title


class ExternalSignerRequired(CustodyConflict):
    """A custodial route was asked to sign for a participant that holds its own key."""

    def __init__(self, participant: str) -> None:
        super().__init__(
            "external_signer_required",
            f"participant {participant!r} holds its own key (custody: external): the gateway "
            "cannot sign for it. POST the same request to /prepare followed by this route's path "
            "(e.g. /prepare/offers/7/accept), sign the transaction it returns, and POST it to "
            "/custody/submit (scf_chain.sdk does all three)", prepare_prefix="/prepare",
            submit="/custody/submit")


class SignatureRequired(ConflictError):
    """The effect stopped at a transaction the participant must sign: `body` is the prepared
    step, `preparing` whether it answers a prepare (else a submit whose request needs another
    signature). Caught where effects run (api/deps.py) and answered as the step, never as a
    failure; escaping, it is a conflict: nothing goes on until the participant signs."""

    code, title = "signature_required", "A signature is required"

    def __init__(self, body: dict[str, Any], preparing: bool) -> None:
        super().__init__(f"transaction {body['prepared_id']} awaits its signature")
        self.body, self.preparing = body, preparing


# -- the SDK (scf_chain.sdk, a client of the gateway) ------------------------------------------------

class GatewayError(InvalidError):
    """The gateway refused a request: `status` is its answer's, `code` its stable code, `problem`
    the whole problem document (or the client refused to go on: `no_signer`,
    `refused_by_review`)."""

    title = "The gateway refused the request"

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        code = str(problem.get("code", f"http_{status}"))
        super().__init__(f"{status} {code}: {problem.get('detail') or problem.get('title')}",
                         code=code)


class PreparedTransactionRefused(ForbiddenError):
    """The signer will not sign a prepared transaction (not for its address, another chain)."""

    code = "prepared_transaction_refused"


# -- risk control -------------------------------------------------------------------------------------

class RiskError(InvalidError):
    """Risk control cannot proceed (scf_chain.risk)."""


class RiskDataError(RiskError):
    """Training or scoring data is unusable: missing target column, non-binary target, unknown
    feature, a value of the wrong kind."""


class RiskModelError(UnavailableError, RiskError):
    """A scorecard model file is missing, malformed, or of an unsupported format."""

    code, title = "risk_model_unavailable", "The risk model cannot be used"


class PolicyInvalid(RiskError):
    """A risk policy change is refused (unknown gate, bad mode, a grade the model lacks)."""

    code, title = "risk_policy_invalid", "Invalid risk policy"


@dataclass(frozen=True)
class GateReason:
    """Why a risk gate objects: a stable code and a sentence."""

    code: str
    text: str


class RiskGateBlocked(RiskError):
    """A gate set to block found its reasons: nothing was sent. Every gate blocks as invalid
    values (over the credit limit too, as the contract's own CreditLimitExceeded is)."""

    code, title = "risk_gate_blocked", "Blocked by a risk gate"

    def __init__(self, gate: str, reasons: list[GateReason]) -> None:
        super().__init__(f"risk gate {gate}: " + "; ".join(r.text for r in reasons))
        self.gate, self.reasons = gate, reasons

    def facts(self) -> dict[str, Any]:
        return {"gate": self.gate, "reasons": [{"code": r.code, "text": r.text}
                                               for r in self.reasons]}


class AlertNotFound(NotFoundError, RiskError):
    """No alert has this id."""

    code, title = "alert_not_found", "No such alert"

    def __init__(self, alert_id: int) -> None:
        super().__init__(f"no alert {alert_id}")
        self.alert_id = alert_id


class AlertTransitionError(ConflictError, RiskError):
    """The alert's status does not allow the action (a resolved alert stays resolved)."""

    code, title = "alert_transition_invalid", "Not possible in the alert's status"

    def __init__(self, alert_id: int, status: str, action: str, target: str) -> None:
        super().__init__(f"alert {alert_id} is {status}: it cannot be {target}")
        self.alert_id, self.status, self.action = alert_id, status, action

    def facts(self) -> dict[str, Any]:
        return {"alert_status": self.status}
