"""Load committed contract artifacts (ABI and bytecode) without Node or a compiler."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from scf_chain.errors import ArtifactError

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source_name: str
    raw_text_sha256: str


@lru_cache(maxsize=None)
def load(name: str) -> Artifact:
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json"))) or "none"
        raise ArtifactError(f"no artifact for contract {name!r} (known: {known})")
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        source_name=data["sourceName"],
        raw_text_sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def names() -> list[str]:
    return sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json"))


def all_abis() -> list[list[dict[str, Any]]]:
    return [load(n).abi for n in names()]
