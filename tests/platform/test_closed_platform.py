"""A closed platform lets go of the chain: a chain that outlives it (a test session's shared
embedded chain) reverts snapshots without reaching the closed platform's store."""

from __future__ import annotations

from pathlib import Path

import pytest

from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.clients import Role
from scf_chain.config import Settings
from scf_chain.platform.core import Platform
from tests.indexer.fixtures import fresh_pg_database


@pytest.mark.postgres
def test_a_snapshot_revert_after_a_platform_closed_does_not_reach_its_dropped_store(
        tmp_path: Path, embedded_chain: EmbeddedChain) -> None:
    snapshot = embedded_chain.take_snapshot()
    with fresh_pg_database() as url:  # PostgreSQL: the senders keep their nonces in the store
        platform = Platform.open(Settings(database_url=url, data_dir=tmp_path,
                                          keystore_path=tmp_path / "keys",
                                          document_store_path=tmp_path / "documents"),
                                 chain=embedded_chain)
        try:
            platform.create_participant("closing-sup", "Closing", Role.SUPPLIER, 0)  # a send
        finally:
            platform.close()
        held = platform.parts.system  # kept alive on purpose: a live reference must not matter
    # the database is dropped; the chain reverts under nobody's store
    embedded_chain.revert_to_snapshot(snapshot)
    assert held.chain is embedded_chain
