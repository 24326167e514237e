"""The node's EVM is probed before a deployment: the build it runs is chosen, one it cannot run
is refused before anything is sent, and the manifest records the build."""

from __future__ import annotations

from pathlib import Path

import pytest

from scf_chain.chain import forks
from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.base import ChainBackend
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.chain.ganache import GanacheChain
from scf_chain.contracts import artifacts
from scf_chain.deploy import Manifest, load_or_deploy, runtime_code_hash, verify_manifest
from scf_chain.errors import DeploymentError

CANCUN_OPS = {"PUSH0", "TLOAD", "TSTORE", "MCOPY"}


def test_probes_tell_each_fork_apart(anvil_chain: AnvilChain, paris_anvil_chain: AnvilChain,
                                     ganache_chain: GanacheChain) -> None:
    assert forks.probe(anvil_chain).supported == CANCUN_OPS
    paris = forks.probe(paris_anvil_chain)
    assert paris.supported == frozenset() and set(paris.refusals) == CANCUN_OPS
    shanghai = forks.probe(ganache_chain)  # ganache's default fork: PUSH0, nothing of Cancun
    assert shanghai.supported == {"PUSH0"} and "Ganache" in shanghai.client


def test_auto_picks_the_newest_build_the_node_runs(anvil_chain: AnvilChain,
                                                   paris_anvil_chain: AnvilChain,
                                                   ganache_chain: GanacheChain,
                                                   embedded_chain: EmbeddedChain) -> None:
    assert forks.select_evm_version(anvil_chain) == "cancun"
    assert forks.select_evm_version(embedded_chain, "auto") == "cancun"
    assert forks.select_evm_version(paris_anvil_chain) == "paris"
    assert forks.select_evm_version(ganache_chain) == "paris"
    assert forks.select_evm_version(anvil_chain, "paris") == "paris"  # older code runs on newer


def _nonce_and_height(chain: ChainBackend, address: str) -> tuple[int, int]:
    return int(chain.w3.eth.get_transaction_count(address)), chain.block_number()


def test_a_cancun_build_is_refused_on_a_paris_node_before_anything_is_sent(
        paris_anvil_chain: AnvilChain, tmp_path: Path) -> None:
    deployer = paris_anvil_chain.dev_accounts()[9]
    before = _nonce_and_height(paris_anvil_chain, deployer.address)
    with pytest.raises(DeploymentError) as info:
        load_or_deploy(paris_anvil_chain, deployer, tmp_path / "d.json", dev_token=True,
                       evm_version="cancun")
    message = str(info.value)
    assert "cancun build" in message and "PUSH0" in message and "TSTORE" in message
    assert "SCF_EVM_VERSION=paris" in message and "Nothing was sent" in message
    assert _nonce_and_height(paris_anvil_chain, deployer.address) == before
    assert not (tmp_path / "d.json").exists()


def test_an_unknown_build_is_refused(anvil_chain: AnvilChain) -> None:
    with pytest.raises(DeploymentError, match="no contract build for EVM version 'osaka'"):
        forks.select_evm_version(anvil_chain, "osaka")


def test_the_paris_build_deploys_on_a_paris_node_and_the_manifest_says_so(
        paris_anvil_chain: AnvilChain, tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    manifest, deployed = load_or_deploy(paris_anvil_chain, paris_anvil_chain.dev_accounts()[10],
                                        path, dev_token=True)
    assert deployed and manifest.evm_version == "paris"
    assert Manifest.load(path).evm_version == "paris"
    token = manifest.contracts["ReceivableToken"]
    assert token.code_hash == runtime_code_hash("ReceivableToken", None, "paris")
    assert token.code_hash != runtime_code_hash("ReceivableToken")  # not the Cancun code
    verify_manifest(paris_anvil_chain, manifest)
    again, deployed = load_or_deploy(paris_anvil_chain, paris_anvil_chain.dev_accounts()[10],
                                     path, dev_token=True)
    assert not deployed and again == manifest


def test_every_target_has_the_same_abi_and_its_own_compiler_setting() -> None:
    for name in artifacts.names():
        cancun, paris = artifacts.load(name), artifacts.load(name, "paris")
        assert cancun.abi == paris.abi
        assert cancun.bytecode != paris.bytecode
    raw = artifacts.artifact_path("ReceivableToken", "paris").read_text()
    assert '"evmVersion": "paris"' in raw and "contracts/guard/paris/" in raw


def test_manifests_written_before_builds_were_recorded_are_cancun(tmp_path: Path,
                                                                   anvil_chain: AnvilChain) -> None:
    manifest, _ = load_or_deploy(anvil_chain, anvil_chain.dev_accounts()[11], tmp_path / "d.json",
                                 dev_token=True)
    assert manifest.evm_version == "cancun"
    legacy = manifest.model_dump(mode="json")
    del legacy["evm_version"]
    assert Manifest.model_validate(legacy).evm_version == "cancun"


def test_scf_deploy_refuses_a_build_the_node_cannot_run_with_one_error(
        paris_anvil_chain: AnvilChain, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scf_chain.cli import app

    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": paris_anvil_chain.rpc_url,
           "SCF_RPC_DEV_METHODS": "true", "SCF_DEPLOYMENT_FILE": str(tmp_path / "m.json"),
           "SCF_KEYSTORE_PATH": str(tmp_path / "keys")}
    height = paris_anvil_chain.block_number()
    refused = CliRunner().invoke(app, ["deploy", "--dev-token", "--dev-account", "13"],
                                 env={**env, "SCF_EVM_VERSION": "cancun"})
    assert refused.exit_code == 2, refused.output
    assert "cancun build of the contracts needs MCOPY, PUSH0, TLOAD, TSTORE" in refused.output
    assert paris_anvil_chain.block_number() == height and not (tmp_path / "m.json").exists()
    done = CliRunner().invoke(app, ["deploy", "--dev-token", "--dev-account", "13"], env=env)
    assert done.exit_code == 0, done.output
    assert "paris build" in done.output
