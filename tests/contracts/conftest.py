"""A deployed system per EVM target, built once per session and reverted per test: the Cancun
build on the embedded chain (py-evm), the Paris build on anvil's Paris fork."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scf_chain.chain.base import ChainBackend
from tests.contracts.harness import System, build_system


@pytest.fixture(scope="session", params=["cancun", "paris"])
def deployed(request: pytest.FixtureRequest) -> System:
    if request.param == "cancun":
        chain: ChainBackend = request.getfixturevalue("embedded_chain")
    else:
        chain = request.getfixturevalue("paris_anvil_chain")
    return build_system(chain, evm_version=request.param)


@pytest.fixture()
def sys_(deployed: System) -> Iterator[System]:
    snap = deployed.chain.take_snapshot()
    yield deployed
    deployed.chain.revert_to_snapshot(snap)
