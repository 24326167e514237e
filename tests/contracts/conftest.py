"""A deployed system on the embedded chain, built once per session and reverted per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scf_chain.chain.embedded import EmbeddedChain
from tests.contracts.harness import System, build_system


@pytest.fixture(scope="session")
def deployed(embedded_chain: EmbeddedChain) -> System:
    return build_system(embedded_chain)


@pytest.fixture()
def sys_(deployed: System) -> Iterator[System]:
    snap = deployed.chain.take_snapshot()
    yield deployed
    deployed.chain.revert_to_snapshot(snap)
