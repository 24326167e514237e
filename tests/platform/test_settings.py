"""Settings reach the parts they configure."""

from __future__ import annotations

from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform


def test_receipt_timeout_and_stale_requests_follow_the_settings(
        embedded_chain: EmbeddedChain) -> None:
    platform = Platform.open(Settings(receipt_timeout_s=7.5), chain=embedded_chain)
    try:
        sender = platform.system.sender(platform.operator_account)
        assert sender.receipt_timeout_s == 7.5
        assert platform.token(platform.operator_account).sender.receipt_timeout_s == 7.5
        assert platform.idempotency.stale_after_s == 300.0  # at least five minutes
    finally:
        platform.close()
    slow = Platform.open(Settings(receipt_timeout_s=600), chain=embedded_chain)
    try:
        assert slow.idempotency.stale_after_s == 2 * 600 + 60
    finally:
        slow.close()
