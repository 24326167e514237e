"""The exception tree (scf_chain/errors.py): every error in one module, each of one kind with a
stable code, and no HTTP anywhere in the core (the gateway alone maps kinds to statuses)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import scf_chain
from scf_chain import errors
from scf_chain.errors import Kind, ScfError

ROOT = Path(__file__).resolve().parents[1]


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _tree() -> list[type[ScfError]]:
    return [c for c in vars(errors).values()
            if isinstance(c, type) and issubclass(c, ScfError) and c is not ScfError]


def test_every_exception_of_the_package_lives_in_errors_py() -> None:
    modules = [m.name for m in pkgutil.walk_packages(scf_chain.__path__, "scf_chain.")
               if ".migrations" not in m.name]  # Alembic's scripts, loaded by Alembic alone
    stray = []
    for name in modules:
        for attr, value in vars(importlib.import_module(name)).items():
            if (isinstance(value, type) and issubclass(value, BaseException)
                    and value.__module__ == name and name != errors.__name__
                    and not attr.startswith("_")):  # private signals never leave their module
                stray.append(f"{name}.{attr}")
    assert stray == [], "exceptions defined outside scf_chain/errors.py"
    # the generated revert classes are the one family elsewhere, all under ContractRevert
    assert all(issubclass(c, errors.ContractRevert) or c.__module__ == errors.__name__
               or c.__name__.startswith("_") for c in _subclasses(ScfError))


def test_every_error_has_one_kind_a_code_and_a_title() -> None:
    for cls in _tree():
        assert isinstance(cls.kind, Kind), cls
        assert cls.title and cls.title[0].isupper(), cls
        if cls is not errors.ContractRevert:  # contract_<name>, set per instance
            assert re.fullmatch(r"[a-z][a-z0-9_]*", cls.code), cls


def test_an_error_without_a_kind_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match="kind"):
        class Stray(ScfError):  # noqa: F841
            pass


def test_each_error_is_also_the_builtin_its_kind_refines() -> None:
    assert issubclass(errors.NotFound, LookupError)
    assert issubclass(errors.DocumentNotFound, LookupError)
    assert issubclass(errors.DocumentNotFound, errors.EvidenceError)  # and still evidence's
    assert issubclass(errors.AuthError, PermissionError)
    assert issubclass(errors.ParticipantConflict, errors.ParticipantError)
    assert issubclass(errors.ExternalSignerRequired, errors.CustodyError)
    assert issubclass(errors.IdempotencyKeyInvalid, errors.IdempotencyConflict)
    assert issubclass(errors.TransactionTimeout, TimeoutError)
    assert issubclass(errors.TransactionTimeout, errors.ChainError)
    assert issubclass(errors.EvidenceError, ValueError)


# HTTP statuses written in code or prose: 4xx, 501-511 (500 is left out: it is a common size)
_STATUS = re.compile(r"\b(4[0-5]\d|50[1-9]|51[01])\b")
_HTTP_NAMES = re.compile(r"http_status|HTTPStatus|HTTPException|^\s*(from|import)\s+(fastapi|"
                         r"starlette)\b|\bstatus_code\s*=\s*\d", re.MULTILINE)


# The SDK is a client of the gateway: reading HTTP answers is its job (it would sit beside the
# gateway rather than in the core, like the demo's story in scripts/).
CLIENTS = ("sdk",)


def test_no_module_of_the_core_mentions_http_statuses() -> None:
    found = []
    for path in sorted((ROOT / "scf_chain").rglob("*.py")):
        if path.relative_to(ROOT / "scf_chain").parts[0] in CLIENTS:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if _STATUS.search(line) or _HTTP_NAMES.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == [], "the core names HTTP statuses (map kinds in api/problems.py):\n" + \
        "\n".join(found)


def test_the_http_check_would_catch_a_status() -> None:
    assert _STATUS.search("raise Problem(404, ...)") and _STATUS.search("a 409 to its submitter")
    assert _HTTP_NAMES.search("    http_status = 403")
    assert not _STATUS.search("_IN_CHUNK = 500") and not _STATUS.search("Field(max_length=4000)")
