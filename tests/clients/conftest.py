"""A dev deployment with named participants on the embedded chain, reverted after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.devnet import DevNet, start_devnet


@pytest.fixture(scope="session")
def devnet_session(embedded_chain: EmbeddedChain) -> DevNet:
    return start_devnet(embedded_chain)


@pytest.fixture()
def net(devnet_session: DevNet) -> Iterator[DevNet]:
    snap = devnet_session.chain.take_snapshot()
    yield devnet_session
    devnet_session.chain.revert_to_snapshot(snap)
