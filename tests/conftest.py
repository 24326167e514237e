"""Shared fixtures: chains started once per session (per xdist worker)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.chain.ganache import GanacheChain

if TYPE_CHECKING:
    from scf_chain.devnet import DevNet

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    """`--dist loadgroup` (scripts/test.sh) keeps the tests of an xdist_group on one worker by
    renaming them `<id>@<group>` in the workers. pytest 9.2 ignores that renaming by
    pytest-xdist 3.8, so every group would be spread silently (module fixtures built on both
    workers, over and over): refuse to run rather than run differently from what is written."""
    if config.getoption("dist", "no") != "loadgroup" or hasattr(config, "workerinput"):
        return
    version = tuple(int(p) for p in pytest.__version__.split(".")[:2] if p.isdigit())
    if version >= (9, 2):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} does not keep xdist groups together: install the "
            "pytest pyproject.toml pins (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def embedded_chain() -> Iterator[EmbeddedChain]:
    chain = EmbeddedChain()
    yield chain
    chain.close()


@pytest.fixture(scope="session")
def anvil_chain() -> Iterator[AnvilChain]:
    chain = AnvilChain()
    yield chain
    chain.close()


@pytest.fixture(scope="session")
def ganache_chain() -> Iterator[GanacheChain]:
    """ganache (npm), an independently written node, on its default Shanghai fork."""
    chain = GanacheChain()
    yield chain
    chain.close()


@pytest.fixture(scope="session")
def paris_anvil_chain() -> Iterator[AnvilChain]:
    """anvil on the Paris fork: no PUSH0, no transient storage, no MCOPY."""
    chain = AnvilChain(hardfork="paris")
    yield chain
    chain.close()


@pytest.fixture(scope="session")
def devnet_session(embedded_chain: EmbeddedChain):  # type: ignore[no-untyped-def]
    """A dev deployment with named, funded participants, once per session (per worker)."""
    from scf_chain.devnet import start_devnet

    return start_devnet(embedded_chain)


@pytest.fixture(scope="session")
def devnet_on_anvil() -> Iterator[DevNet]:
    """A dev deployment on an anvil of its own, once per session (per worker): for the money
    properties, which send hundreds of transactions and reads per example (about 20 ms each on
    eth-tester, 1 ms on anvil). Its own node, so no other test's snapshot can revert it."""
    from scf_chain.devnet import start_devnet

    chain = AnvilChain()
    try:
        yield start_devnet(chain)
    finally:
        chain.close()


@pytest.fixture()
def net(devnet_session):  # type: ignore[no-untyped-def]
    """The dev deployment, reverted after the test."""
    snap = devnet_session.chain.take_snapshot()
    yield devnet_session
    devnet_session.chain.revert_to_snapshot(snap)
