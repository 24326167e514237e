"""Settings reach the parts they configure."""

from __future__ import annotations

from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform


def test_receipt_timeout_and_idempotency_ttl_follow_the_settings(
        embedded_chain: EmbeddedChain) -> None:
    platform = Platform.open(Settings(receipt_timeout_s=7.5), chain=embedded_chain)
    try:
        sender = platform.system.sender(platform.operator_account)
        assert sender.receipt_timeout_s == 7.5
        assert platform.token(platform.operator_account).sender.receipt_timeout_s == 7.5
        assert platform.idempotency.ttl_s == 86_400.0  # answers kept a day by default
    finally:
        platform.close()
    slow = Platform.open(Settings(receipt_timeout_s=600, idempotency_ttl_s=3600),
                         chain=embedded_chain)
    try:
        assert slow.idempotency.ttl_s == 3600
    finally:
        slow.close()
