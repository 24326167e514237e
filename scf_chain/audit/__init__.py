"""Audit over the indexed store: receivable traces, participant flows, reconciliation with the chain."""

from scf_chain.audit.flows import FLOW_COLUMNS, FlowRow, ParticipantFlows, participant_flows
from scf_chain.audit.reconcile import Difference, ReconcileReport, reconcile
from scf_chain.audit.trace import (
    EvidenceStatus,
    Financing,
    Payment,
    ReceivableTrace,
    TokenNode,
    Verifier,
    implied_annual_rate,
    trace_receivable,
)
from scf_chain.audit.visibility import View, Viewer, trace_seen, view_of

__all__ = ["FLOW_COLUMNS", "Difference", "EvidenceStatus", "Financing", "FlowRow",
           "ParticipantFlows", "Payment", "ReceivableTrace", "ReconcileReport", "TokenNode",
           "Verifier", "View", "Viewer", "implied_annual_rate", "participant_flows", "reconcile",
           "trace_receivable", "trace_seen", "view_of"]
