"""One definition of the contract's encodings on the Python side (scf_chain/contracts/encoding.py)."""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path

import pytest

from scf_chain.contracts import encoding
from scf_chain.contracts.build import project_root

PACKAGE = Path(encoding.__file__).resolve().parents[1]


def _solidity_enum(name: str) -> list[str]:
    source = (project_root() / "contracts" / "interfaces" / "IReceivableToken.sol").read_text(encoding="utf-8")
    found = re.search(r"enum\s+" + name + r"\s*\{([^}]*)\}", source)
    assert found, f"enum {name} not in IReceivableToken.sol"
    return [m.strip() for m in found.group(1).split(",")]


@pytest.mark.parametrize(("python", "solidity"), [(encoding.ReceivableState, "State"),
                                                  (encoding.OfferStatus, "OfferStatus")])
def test_status_enums_follow_the_contract(python: type[IntEnum], solidity: str) -> None:
    assert [m.name.replace("_", "").lower() for m in python] == [
        n.lower() for n in _solidity_enum(solidity)]


def test_status_names_and_the_token_id_layout() -> None:
    assert [n.lower() for n in _solidity_enum("Status")] == list(
        encoding.STORED_RECEIVABLE_STATUS.values())
    assert encoding.STORED_RECEIVABLE_STATUS[2] == "active"
    assert encoding.DERIVED_RECEIVABLE_STATUSES == ("active", "matured", "overdue", "settled")
    assert encoding.OFFER_STATUS == {0: "none", 1: "open", 2: "accepted", 3: "cancelled"}
    tid = encoding.token_id_of(12, 3)
    assert tid == 12 * 2**64 + 3 and encoding.slot_of(tid) == 12
    assert encoding.slot_of(encoding.token_id_of(5, 2**64 - 1)) == 5


def test_no_module_repeats_the_token_id_layout_or_a_status_map() -> None:
    repeated = re.compile(r"(>>|<<)\s*64\b|SLOT_SHIFT\s*=|\{\s*0?:?\s*\"none\",|1:\s*\"pending\"")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py")) if path != Path(encoding.__file__).resolve()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if repeated.search(line)
    ]
    assert offenders == [], "use scf_chain.contracts.encoding instead"
