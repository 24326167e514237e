"""A platform on the session's embedded chain, opened once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform


@pytest.fixture(scope="module")
def platform(embedded_chain: EmbeddedChain) -> Iterator[Platform]:
    p = Platform.open(Settings(), chain=embedded_chain)
    try:
        yield p
    finally:
        p.close()
