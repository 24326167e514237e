"""`scf deploy`: the manifest is written, reused on the same chain, refused elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.deploy import Manifest, load_or_deploy, runtime_code_hash
from scf_chain.errors import DeploymentError


@pytest.fixture()
def chain(embedded_chain: EmbeddedChain):  # type: ignore[no-untyped-def]
    snap = embedded_chain.take_snapshot()
    yield embedded_chain
    embedded_chain.revert_to_snapshot(snap)


def test_deploy_writes_manifest_then_reuses_it(chain: EmbeddedChain, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    operator = chain.dev_accounts()[0]
    first, deployed = load_or_deploy(chain, operator, path, dev_token=True)
    assert deployed and path.exists()
    assert first.chain_id == chain.chain_id()
    assert set(first.contracts) == {"TestSettlementToken", "ReceivableToken", "EvidenceRegistry"}
    assert first.settlement_tokens == [first.dev_settlement_token]
    assert first.registry == first.receivable_token
    for c in first.contracts.values():
        assert c.code_hash == runtime_code_hash(c.name)
        assert chain.w3.eth.get_code(c.address)
    block = chain.block_number()
    again, deployed = load_or_deploy(chain, operator, path, dev_token=True)
    assert not deployed and again == first
    assert chain.block_number() == block  # nothing was sent


def test_manifest_of_another_chain_is_refused(chain: EmbeddedChain, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    manifest, _ = load_or_deploy(chain, chain.dev_accounts()[0], path, dev_token=True)
    data = json.loads(path.read_text())
    data["chain_id"] = manifest.chain_id + 1
    path.write_text(json.dumps(data))
    with pytest.raises(DeploymentError, match=r"chain id \d+, but the node is chain id"):
        load_or_deploy(chain, chain.dev_accounts()[0], path, dev_token=True)
    assert json.loads(path.read_text())["chain_id"] == manifest.chain_id + 1  # left untouched


def test_manifest_of_a_reset_chain_is_refused(embedded_chain: EmbeddedChain, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    snap = embedded_chain.take_snapshot()
    load_or_deploy(embedded_chain, embedded_chain.dev_accounts()[0], path, dev_token=True)
    embedded_chain.revert_to_snapshot(snap)  # the chain forgets the deployment
    with pytest.raises(DeploymentError, match="has no code"):
        load_or_deploy(embedded_chain, embedded_chain.dev_accounts()[0], path, dev_token=True)
    manifest, deployed = load_or_deploy(embedded_chain, embedded_chain.dev_accounts()[0], path,
                                        dev_token=True, fresh=True)
    assert deployed and Manifest.load(path) == manifest
    embedded_chain.revert_to_snapshot(embedded_chain.take_snapshot())


def test_manifest_from_other_artifacts_is_refused(chain: EmbeddedChain, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    load_or_deploy(chain, chain.dev_accounts()[0], path, dev_token=True)
    data = json.loads(path.read_text())
    data["contracts"]["ReceivableToken"]["code_hash"] = "0x" + "11" * 32
    path.write_text(json.dumps(data))
    with pytest.raises(DeploymentError, match="runs code other than"):
        load_or_deploy(chain, chain.dev_accounts()[0], path)


def test_malformed_or_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="no deployment manifest"):
        Manifest.load(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"chain_id": "x"}')
    with pytest.raises(DeploymentError, match="malformed"):
        Manifest.load(bad)


def test_deployment_needs_a_settlement_token(chain: EmbeddedChain, tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="settlement token"):
        load_or_deploy(chain, chain.dev_accounts()[0], tmp_path / "d.json")


@pytest.mark.anvil
def test_scf_deploy_command_against_anvil(anvil_chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from scf_chain.cli import app

    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": anvil_chain.rpc_url,
           "SCF_RPC_DEV_METHODS": "true", "SCF_DEPLOYMENT_FILE": str(tmp_path / "m.json")}
    runner = CliRunner()
    first = runner.invoke(app, ["deploy", "--dev-token", "--dev-account", "0"], env=env)
    assert first.exit_code == 0, first.output
    assert "deployed" in first.output and (tmp_path / "m.json").exists()
    second = runner.invoke(app, ["deploy", "--dev-token", "--dev-account", "0"], env=env)
    assert second.exit_code == 0, second.output
    assert "reusing" in second.output
    data = json.loads((tmp_path / "m.json").read_text())
    data["chain_id"] = 1
    (tmp_path / "m.json").write_text(json.dumps(data))
    third = runner.invoke(app, ["deploy", "--dev-account", "0"], env=env)
    assert third.exit_code == 2 and "chain id 1" in third.output
