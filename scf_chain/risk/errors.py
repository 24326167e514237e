"""Risk control's typed errors, all under the package root ScfError (and ValueError)."""

from __future__ import annotations

from scf_chain.errors import ScfError


class RiskError(ScfError, ValueError):
    """Risk control cannot proceed (scf_chain.risk)."""


class RiskDataError(RiskError):
    """Training or scoring data is unusable: missing target column, non-binary target, unknown
    feature, a value of the wrong kind."""


class RiskModelError(RiskError):
    """A scorecard model file is missing, malformed, or of an unsupported format."""
