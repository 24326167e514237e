"""Process-wide Prometheus metrics (transactions, receipts, nonces, requests) and the hooks that feed them.

The objects live in one registry of their own (`REGISTRY`), which the gateway's `/metrics` serves
beside the collectors it reads from the store at each scrape. Code that sends transactions or
handles nonces calls the small functions below instead of touching the metric objects, so the
metric names and labels are decided here only.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from prometheus_client import Counter, Histogram
from prometheus_client.registry import CollectorRegistry

REGISTRY = CollectorRegistry(auto_describe=True)

# seconds; requests of this gateway take ~5 ms to a few seconds (a receipt on a 1 s block chain)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_LATENCY = Histogram(
    "scf_http_request_duration_seconds",
    "Time from a request's first byte to the end of its answer, by route template",
    ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
TX_SENT = Counter("scf_transactions_sent", "Transactions signed and accepted by the node",
                  registry=REGISTRY)
TX_MINED = Counter("scf_transactions_mined", "Transactions whose receipt says success",
                   registry=REGISTRY)
TX_FAILED = Counter("scf_transactions_failed",
                    "Transactions mined with a failed status (reverted or out of gas)",
                    registry=REGISTRY)
RECEIPT_LATENCY = Histogram(
    "scf_receipt_latency_seconds",
    "Time from a transaction's broadcast to its receipt being seen by this process",
    buckets=_LATENCY_BUCKETS, registry=REGISTRY)
NONCE_GAPS_FILLED = Counter(
    "scf_nonce_gaps_filled",
    "Nonces reused or filled because their transaction was never broadcast or was dropped",
    registry=REGISTRY)

# broadcast time of transactions whose receipt has not been seen yet; bounded so that
# transactions nobody waits for (fire and forget) cannot grow it without end
_MAX_PENDING = 10_000
_pending: OrderedDict[str, float] = OrderedDict()
_pending_lock = threading.Lock()


def tx_sent(tx_hash: str) -> None:
    """A transaction left this process (the node accepted it)."""
    TX_SENT.inc()
    with _pending_lock:
        _pending[tx_hash.lower()] = time.monotonic()
        while len(_pending) > _MAX_PENDING:
            _pending.popitem(last=False)


def tx_receipt(tx_hash: str, succeeded: bool) -> None:
    """The receipt of `tx_hash` was seen: mined or failed, and how long since its broadcast (if
    this process broadcast it)."""
    (TX_MINED if succeeded else TX_FAILED).inc()
    with _pending_lock:
        sent = _pending.pop(tx_hash.lower(), None)
    if sent is not None:
        RECEIPT_LATENCY.observe(time.monotonic() - sent)


def nonce_gap_filled(count: int = 1) -> None:
    """`count` nonces were reused or filled so that an account does not stall behind a gap."""
    NONCE_GAPS_FILLED.inc(count)


def request_done(method: str, route: str, status: int, seconds: float) -> None:
    """One HTTP request answered (`route`: the route's template, never the raw path)."""
    HTTP_LATENCY.labels(method, route, f"{status // 100}xx").observe(seconds)
