"""docs/contracts.md quotes signatures; every one of them must be one the compiled ABI has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from scf_chain.contracts import artifacts

DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
CONTRACTS = ("ReceivableToken", "EvidenceRegistry", "TestSettlementToken")
# Backticked formulas that look like calls but are not contract functions.
NOT_ABI = {"keccak256", "min"}
_SPAN = re.compile(r"`([^`]+)`")
_SIGNATURE = re.compile(r"^(\w+)\(([^()]*)\)\s*(?:(?:→|returns)\s*\(([^()]*)\))?$")


def _spans(text: str) -> list[str]:
    return [" ".join(m.group(1).split()) for m in _SPAN.finditer(text)]


def _entries() -> dict[str, list[dict[str, Any]]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for contract in CONTRACTS:
        for entry in artifacts.load(contract).abi:
            if "name" in entry:
                by_name.setdefault(entry["name"], []).append(entry)
    return by_name


def _params(text: str) -> list[tuple[str | None, str]]:
    """`type name` or `name` items -> (type or None, name)."""
    out: list[tuple[str | None, str]] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        words = item.split()
        out.append((words[0], words[1]) if len(words) == 2 else (None, words[0]))
    return out


def _matches(quoted: list[tuple[str | None, str]], abi: list[dict[str, Any]]) -> bool:
    return len(quoted) == len(abi) and all(
        name == a["name"] and (typ is None or typ == a["type"]) for (typ, name), a in zip(quoted, abi, strict=True))


def _outputs(entry: dict[str, Any]) -> list[dict[str, Any]]:
    outs: list[dict[str, Any]] = entry.get("outputs", [])
    if len(outs) == 1 and outs[0]["type"] == "tuple":  # a struct: its fields, by name
        return list(outs[0]["components"])
    return outs


def _signatures() -> list[tuple[str, str, str | None, str]]:
    found = []
    for span in _spans(DOC.read_text(encoding="utf-8")):
        m = _SIGNATURE.match(span)
        if m and m.group(1) not in NOT_ABI:
            found.append((m.group(1), m.group(2), m.group(3), span))
    return found


def test_the_document_quotes_signatures_and_points_at_the_interface() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "contracts/interfaces/IReceivableToken.sol" in text
    assert len(_signatures()) > 60


@pytest.mark.parametrize(("name", "inputs", "outputs", "span"), _signatures(), ids=lambda v: str(v)[:40])
def test_every_quoted_signature_is_in_the_abi(name: str, inputs: str, outputs: str | None, span: str) -> None:
    candidates = _entries().get(name)
    assert candidates, f"docs/contracts.md quotes `{span}`, but no contract has {name}"
    quoted = _params(inputs)
    hits = [e for e in candidates if _matches(quoted, e.get("inputs", []))]
    assert hits, (f"`{span}`: the ABI has " + "; ".join(
        f"{name}({', '.join(a['type'] + ' ' + a['name'] for a in e.get('inputs', []))})" for e in candidates))
    if outputs is not None:
        assert any(_matches(_params(outputs), _outputs(e)) for e in hits), (
            f"`{span}`: outputs differ from the ABI's "
            + str([[o["name"] for o in _outputs(e)] for e in hits]))


def test_every_file_the_document_names_exists() -> None:
    root = DOC.parents[1]
    paths = [s for s in _spans(DOC.read_text(encoding="utf-8")) if re.fullmatch(r"[\w./-]+\.(sol|py)", s)]
    assert paths
    missing = [p for p in paths if not (root / p).exists()]
    assert not missing, f"docs/contracts.md names files that do not exist: {missing}"
