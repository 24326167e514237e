"""The demo story through HTTP on pre-Cancun nodes: the Paris build on anvil's Paris fork, and the
rpc backend against ganache (an independently written node, Shanghai fork), every amount checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.ganache import GanacheChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform
from scripts.demo_story import run_story

EXPECTED = {"supplier-a": 500_000_00, "supplier-b": 200_000_00, "supplier-c": 100_000_00,
            "bank": 200_000_00}


@pytest.fixture(params=["anvil-paris", "rpc-ganache"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    if request.param == "anvil-paris":
        with AnvilChain(hardfork="paris") as chain:
            opened = Platform.open(Settings(), chain=chain)
            try:
                yield opened
            finally:
                opened.close()
        return
    with GanacheChain() as node:
        # a node the gateway did not start: the rpc backend, with its dev methods for time
        settings = Settings(chain_backend="rpc", rpc_url=node.rpc_url, rpc_dev_methods=True,
                            data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/scf.db",
                            keystore_path=tmp_path / "keys", keystore_password="test",
                            keystore_scrypt_n=2**10, document_store_path=tmp_path / "documents")
        opened = Platform.open(settings)
        try:
            yield opened
        finally:
            opened.close()


def test_the_story_pays_every_holder_on_a_pre_cancun_node(platform: Platform) -> None:
    assert platform.system.manifest.evm_version == "paris"  # probed: the node has no TSTORE
    app = create_app(platform, background=True, index_interval_s=0.2, keeper=platform.keeper())
    with TestClient(app) as client:
        story = run_story(client, platform.issue_api_key("operator").token, lambda _: None)
    assert story.paid == EXPECTED
    assert story.reconcile["clean"] and story.reconcile["differences"] == []
    assert story.trace["repaid"] == story.trace["paid_out"] == "100000000"
