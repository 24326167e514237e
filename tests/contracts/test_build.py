"""Reproducible build: committed artifacts equal a fresh compile; stale ones and errors are named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scf_chain.contracts import artifacts, build
from scf_chain.contracts.settings import EVM_VERSION, OPTIMIZER_RUNS, SOLC_VERSION
from scf_chain.errors import ArtifactError, CompileError

pytestmark = pytest.mark.xdist_group("compile")


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    sources = build.collect_sources()
    return build.make_artifacts(build.compile_sources(sources), sources)


def test_committed_artifacts_are_byte_identical_to_a_fresh_compile(fresh: dict[str, str]) -> None:
    committed = {p.name: p.read_text() for p in build.ARTIFACTS_DIR.glob("*.json")}
    assert sorted(committed) == sorted(fresh)
    for name, text in fresh.items():
        assert committed[name] == text, f"{name} is stale: run `scf build-contracts`"
    build.check()  # the CLI's --check path agrees


def test_artifacts_record_compiler_settings_and_source_hashes(fresh: dict[str, str]) -> None:
    art = json.loads(fresh["ReceivableToken.json"])
    assert art["compiler"]["version"] == SOLC_VERSION
    assert art["compiler"]["settings"]["optimizer"] == {"enabled": True, "runs": OPTIMIZER_RUNS}
    assert art["compiler"]["settings"]["evmVersion"] == EVM_VERSION
    assert art["sourceHashes"]["contracts/ReceivableToken.sol"].startswith("sha256:")
    for key in ("abi", "bytecode", "deployedBytecode", "metadata", "storageLayout"):
        assert art[key]
    assert artifacts.load("ReceivableToken").abi == art["abi"]


def _copy_project(tmp: Path) -> Path:
    root = build.project_root()
    shutil.copytree(root / "contracts", tmp / "contracts")
    (tmp / "scripts").mkdir()
    shutil.copy(root / "scripts" / "solc-wrapper.js", tmp / "scripts")
    (tmp / "node_modules").symlink_to(root / "node_modules")
    return tmp


def test_a_stale_artifact_fails_naming_the_contract_without_a_compile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy_project(tmp_path / "proj")
    out = tmp_path / "out"
    shutil.copytree(build.ARTIFACTS_DIR, out)
    src = root / "contracts" / "EvidenceRegistry.sol"
    src.write_text(src.read_text() + "\n// an edit after the last build\n")

    def no_compile(*_: object, **__: object) -> None:
        raise AssertionError("the recorded source hashes already tell")

    monkeypatch.setattr(build, "compile_sources", no_compile)
    with pytest.raises(ArtifactError, match="EvidenceRegistry") as info:
        build.check(out_dir=out, root=root)
    assert "ReceivableToken" not in str(info.value)
    assert "paris/EvidenceRegistry" in str(info.value)  # every target's artifact is named


def test_an_artifact_of_a_deleted_contract_is_named_no_longer_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    shutil.copytree(build.ARTIFACTS_DIR, out)
    ghost = json.loads((out / "EvidenceRegistry.json").read_text())
    ghost.update(contractName="Ghost", sourceName="contracts/Ghost.sol")
    (out / "paris" / "Ghost.json").write_text(json.dumps(ghost))
    monkeypatch.setattr(build, "compile_sources", lambda *_, **__: pytest.fail("compiled"))
    with pytest.raises(ArtifactError, match=r"no longer built: paris/Ghost\)"):
        build.check(out_dir=out)


def test_a_compile_error_carries_file_line_and_message(tmp_path: Path) -> None:
    root = _copy_project(tmp_path / "proj")
    bad = root / "contracts" / "Broken.sol"
    bad.write_text(
        "// SPDX-License-Identifier: Apache-2.0\npragma solidity ^0.8.24;\n\n"
        "contract Broken {\n    function f() external pure returns (uint256) {\n"
        "        return undefinedThing;\n    }\n}\n"
    )
    with pytest.raises(CompileError) as info:
        build.build(out_dir=tmp_path / "out", root=root)
    err = info.value
    assert ("contracts/Broken.sol", 6) in [(f, line) for f, line, _ in err.errors]
    assert "Undeclared identifier" in str(err)
    assert "contracts/Broken.sol:6" in str(err)


def test_the_generated_error_list_is_part_of_the_build(fresh: dict[str, str], tmp_path: Path) -> None:
    errors = json.loads(fresh[artifacts.ERRORS_FILE])["errors"]
    assert errors["NotDebtor"]["contracts"] == ["ReceivableToken"]
    assert errors["ERC20InsufficientBalance"]["inputs"][0] == {"name": "sender", "type": "address"}
    assert artifacts.ERRORS_FILE.removesuffix(".json") not in artifacts.names()
    out = tmp_path / "out"
    shutil.copytree(build.ARTIFACTS_DIR, out)
    stale = json.loads((out / artifacts.ERRORS_FILE).read_text())
    del stale["errors"]["NotDebtor"]
    (out / artifacts.ERRORS_FILE).write_text(json.dumps(stale))
    with pytest.raises(ArtifactError, match="stale or missing: errors$|stale or missing: errors\\)"):
        build.check(out_dir=out)
