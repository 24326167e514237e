"""Both EVM targets are built and checked: a stale Paris artifact fails `build-contracts --check`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scf_chain.contracts import build
from scf_chain.errors import ArtifactError

pytestmark = pytest.mark.xdist_group("compile")


def test_a_stale_or_missing_paris_artifact_fails_the_check(tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(build.ARTIFACTS_DIR, out)
    paris = out / "paris" / "EvidenceRegistry.json"
    art = json.loads(paris.read_text())
    art["bytecode"] = art["bytecode"][:-2] + "00"
    paris.write_text(json.dumps(art, indent=2, sort_keys=True) + "\n")
    (out / "paris" / "MockReceiver.json").unlink()
    with pytest.raises(ArtifactError) as info:
        build.check(out_dir=out)
    # the Cancun set (compared by test_build) is untouched: only the Paris files are named
    assert "stale or missing: paris/EvidenceRegistry, paris/MockReceiver)" in str(info.value)


def test_the_paris_build_compiles_only_its_own_guard() -> None:
    paris = build.collect_sources(evm_version="paris")
    cancun = build.collect_sources(evm_version="cancun")
    assert "contracts/guard/paris/TargetReentrancyGuard.sol" in paris
    assert not any(u.startswith("contracts/guard/cancun/") for u in paris)
    assert "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol" not in paris
    assert "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol" in cancun
    assert not any(u.startswith("contracts/guard/paris/") for u in cancun)
