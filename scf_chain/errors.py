"""The package's exception tree: one root, each error also a builtin so callers may catch either."""

from __future__ import annotations

from typing import Any


class ScfError(Exception):
    """Root of every error raised by scf_chain."""


class ConfigError(ScfError, ValueError):
    """Settings are missing or inconsistent."""


class CompileError(ScfError, RuntimeError):
    """The Solidity compiler reported errors; `errors` holds (file, line, message) triples."""

    def __init__(self, message: str, errors: list[tuple[str, int, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class ArtifactError(ScfError, RuntimeError):
    """A committed contract artifact is missing or stale."""


class ChainError(ScfError, RuntimeError):
    """The chain backend failed (node not reachable, not started, bad response)."""


class TransactionTimeout(ChainError, TimeoutError):
    """A transaction was not mined within the allowed time."""


class ContractRevert(ScfError, RuntimeError):
    """A contract call reverted. Subclasses are generated per Solidity custom error.

    `error_name` is the Solidity error name (or "Error" for a reason string, "Panic" for a panic),
    `args` the decoded arguments by name, `tx_hash` the transaction if one was sent.
    """

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
        super().__init__(message or f"{error_name}({shown})")


class EvidenceError(ScfError, ValueError):
    """Evidence is malformed, inconsistent or fails verification."""


class KeyStoreError(ScfError, ValueError):
    """A key is missing, or a keystore cannot be decrypted."""


class DeploymentError(ScfError, RuntimeError):
    """A deployment manifest is missing, belongs to another chain, or does not match."""


class IndexerError(ScfError, RuntimeError):
    """The indexer cannot proceed (inconsistent cursor, concurrent writer, unknown token)."""


class ReorgTooDeep(IndexerError):
    """The node's chain leaves the indexed one further back than the indexer may undo: a reset
    node or another chain behind the same URL, more likely than a reorg that deep."""


class AuditError(ScfError, LookupError):
    """An audit query names something the store does not hold (unknown slot, participant)."""


class StoreSchemaError(ScfError, RuntimeError):
    """The store's tables do not match its recorded migration revision (a store whose creation
    was cut off before migrations were atomic, or one this release does not know); nothing was
    changed, and the message says what to do."""


class DataDirLocked(ScfError, RuntimeError):
    """Another process holds the gateway lock of this data folder (one gateway per keystore)."""


class InsufficientGas(ChainError):
    """The node refused a transaction because its sender cannot pay for the gas (and value):
    nothing was sent. `address` is the sender, `needed_wei` what the transaction could cost at
    most (0 when unknown), `balance_wei` what the sender holds."""

    def __init__(self, address: str, needed_wei: int, balance_wei: int, message: str) -> None:
        super().__init__(message)
        self.address, self.needed_wei, self.balance_wei = address, needed_wei, balance_wei
