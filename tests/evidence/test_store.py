"""The encrypted document store: round trip, access control, tamper detection, master key rotation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf_chain.evidence.store import (
    DocumentAccessDenied,
    DocumentNotFound,
    DocumentStore,
    DocumentTampered,
    MasterKey,
)

MARKER = b"INVOICE-SECRET-MARKER-4711"


def _store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "docs", MasterKey.generate(tmp_path / "master.key"))


def test_round_trip_and_plaintext_never_on_disk(tmp_path: Path) -> None:
    s = _store(tmp_path)
    meta = s.put("inv-1", b"{" + MARKER + b"}", owner="supplier-a", readers={"core"})
    assert meta.size == len(MARKER) + 2 and meta.readers == ["core"]
    assert s.get("inv-1", "supplier-a") == b"{" + MARKER + b"}"
    assert s.get("inv-1", "core") == b"{" + MARKER + b"}"
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert MARKER not in p.read_bytes()


def test_only_owner_readers_and_auditors_decrypt(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.put("d", b"x", owner="a")
    with pytest.raises(DocumentAccessDenied):
        s.get("d", "b")
    assert s.get("d", "b", is_auditor=True) == b"x"
    s.grant("d", "b")
    assert s.get("d", "b") == b"x"
    with pytest.raises(DocumentNotFound):
        s.get("nope", "a")
    with pytest.raises(Exception, match="invalid document id"):
        s.put("../escape", b"x", owner="a")


@pytest.mark.parametrize("part", ["ciphertext", "nonce", "wrapped_key", "sha256"])
def test_any_tampering_is_detected(tmp_path: Path, part: str) -> None:
    s = _store(tmp_path)
    s.put("d", b"payload-bytes", owner="a")
    blob, meta = tmp_path / "docs" / "d.bin", tmp_path / "docs" / "d.json"
    if part in ("ciphertext", "nonce"):
        raw = bytearray(blob.read_bytes())
        raw[-1 if part == "ciphertext" else 0] ^= 1
        blob.write_bytes(bytes(raw))
    else:
        m = json.loads(meta.read_text())
        m[part] = ("0" if m[part][0] != "0" else "1") + m[part][1:]
        meta.write_text(json.dumps(m))
    with pytest.raises(DocumentTampered):
        s.get("d", "a")


def test_swapped_ciphertexts_fail(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.put("d1", b"one", owner="a")
    s.put("d2", b"two", owner="a")
    b1, b2 = (tmp_path / "docs" / "d1.bin").read_bytes(), (tmp_path / "docs" / "d2.bin").read_bytes()
    (tmp_path / "docs" / "d1.bin").write_bytes(b2)
    (tmp_path / "docs" / "d2.bin").write_bytes(b1)
    for d in ("d1", "d2"):
        with pytest.raises(DocumentTampered):
            s.get(d, "a")


def test_master_key_rotation_rewraps_without_reencrypting(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.put("d", b"content", owner="a")
    blob_before = (tmp_path / "docs" / "d.bin").read_bytes()
    old = s.master
    new = MasterKey.generate(tmp_path / "master2.key")
    assert s.rewrap_all(new) == 1
    assert s.get("d", "a") == b"content"
    assert (tmp_path / "docs" / "d.bin").read_bytes() == blob_before
    with pytest.raises(DocumentTampered):
        DocumentStore(tmp_path / "docs", old).get("d", "a")


@settings(max_examples=25)
@given(st.binary(max_size=2048))
def test_any_bytes_round_trip(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    tmp = tmp_path_factory.mktemp("h")
    s = _store(tmp)
    s.put("x", content, owner="o")
    assert s.get("x", "o") == content


@pytest.mark.parametrize("edit", [("readers", ["intruder"]), ("owner", "intruder"),
                                  ("version", 2), ("size", 1), ("created_at", 0)])
def test_edited_metadata_is_reported_as_tampered(tmp_path: Path, edit: tuple[str, object]) -> None:
    s = _store(tmp_path)
    s.put("d", b"payload", owner="a", readers={"b"})
    meta = tmp_path / "docs" / "d.json"
    m = json.loads(meta.read_text())
    m[edit[0]] = edit[1]
    meta.write_text(json.dumps(m))
    for reader in ("a", "intruder"):
        with pytest.raises(DocumentTampered):
            s.get("d", reader)


def test_auditor_role_grant_and_listing(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.put("d1", b"one", owner="a")
    s.put("d2", b"two", owner="b")
    assert s.get("d1", "*auditor") == b"one"
    s.grant("d1", "c")
    assert s.get("d1", "c") == b"one" and s.metadata("d1").readers == ["c"]
    assert [d.doc_id for d in s.list()] == ["d1", "d2"]
    assert [d.doc_id for d in s.list(owner="b")] == ["d2"]
    assert s.exists("d1") and not s.exists("d3")
    s.rewrap_all(MasterKey.generate(tmp_path / "m2.key"))
    assert s.get("d1", "c") == b"one"
    assert "wrapped_key" not in repr(s.metadata("d1")) and "MasterKey(id=" in repr(s.master)
