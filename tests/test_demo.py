"""README's demo story runs over HTTP to the end with every amount right and a clean reconciliation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# ganache: README's one setting points the demo at a second, independently written node
@pytest.mark.parametrize("backend", ["embedded", "ganache"])
def test_demo_story_ends_clean(backend: str) -> None:
    env = {**os.environ, "SCF_CHAIN_BACKEND": backend}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert f"on the {backend} chain" in proc.stdout
    assert "reconciliation: " in proc.stdout and ", 0 differences" in proc.stdout
    assert "demo: OK" in proc.stdout
