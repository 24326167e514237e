"""The composition root (scf_chain/platform/parts.py): every surface takes its parts from it, and
the platform's modules import one another in one direction only, at their top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from scf_chain.errors import DeploymentError
from scf_chain.platform.core import Platform
from scf_chain.platform.parts import Parts

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "scf_chain" / "platform"

pytestmark = pytest.mark.xdist_group(__name__)


def test_the_platform_is_built_on_its_parts(platform: Platform) -> None:
    parts = platform.parts
    assert (platform.chain, platform.sessions, platform.settings) == (
        parts.chain, parts.sessions, parts.settings)
    assert platform.system is parts.system and platform.indexer is parts.indexer
    assert platform.manifest is parts.manifest is parts.system.manifest
    keeper = platform.keeper(batch_size=7)
    assert keeper.batch_size == 7 and keeper.before_index == platform.sync


def test_a_surface_attaching_to_a_deployment_gets_the_same_wiring(platform: Platform) -> None:
    # what `scf keeper`, `scf index` and `scf audit reconcile` do with the deployment's manifest
    parts = Parts.attach(platform.settings, platform.chain)
    assert parts.manifest == platform.manifest
    assert parts.indexer.confirmations == platform.indexer.confirmations
    keeper = parts.keeper(platform.operator_account, "k-1", batch_size=3, lease_s=9.0)
    assert (keeper.keeper_id, keeper.batch_size, keeper.lease_s) == ("k-1", 3, 9.0)
    assert keeper.before_index == parts.indexer.index_once
    assert keeper.client.account == platform.operator_account.address
    assert parts.keeper(platform.operator_account).keeper_id  # host-pid by default


def test_attaching_to_a_chain_without_the_deployment_is_refused(platform: Platform,
                                                                tmp_path: Path) -> None:
    moved = platform.manifest.model_copy(update={"chain_id": platform.manifest.chain_id + 1})
    with pytest.raises(DeploymentError):
        Parts.attach(platform.settings.model_copy(update={
            "database_url": f"sqlite:///{tmp_path}/untouched.db"}), platform.chain, moved)
    assert not (tmp_path / "untouched.db").exists()  # refused before the store is touched


def _imports_inside_functions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    found.append(f"{path.name}:{inner.lineno}")
    return found


def test_the_composition_root_and_the_platform_import_at_their_top() -> None:
    for name in ("parts.py", "core.py", "rotation.py"):
        assert _imports_inside_functions(PLATFORM / name) == [], name


def test_the_platform_core_does_not_depend_on_rotation() -> None:
    # rotation is a service over the platform (like operations): core never imports it back
    code = ("import sys, scf_chain.platform.core; "
            "print('scf_chain.platform.rotation' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip() == "False", out.stderr
