"""The keystore: keys round-trip encrypted, never show up in logs or reprs, rotate, re-encrypt."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path

import pytest

from scf_chain.errors import KeyStoreError
from scf_chain.keys import KeyStore


def _store(tmp_path: Path, password: str = "pw") -> KeyStore:
    return KeyStore(tmp_path / "keys", password, kdf="pbkdf2", iterations=2)


def test_create_and_reopen_gives_the_same_signer(tmp_path: Path) -> None:
    ks = _store(tmp_path)
    address = ks.create("supplier-a")
    again = _store(tmp_path)
    assert again.account("supplier-a").address == address == again.address_of("supplier-a")
    assert again.names() == ["supplier-a"]
    mode = stat.S_IMODE((tmp_path / "keys" / "supplier-a.json").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_wrong_password_unknown_duplicate_and_bad_names_are_refused(tmp_path: Path) -> None:
    _store(tmp_path).create("a")
    with pytest.raises(KeyStoreError, match="wrong password"):
        _store(tmp_path, "other").account("a")
    with pytest.raises(KeyStoreError, match="no key"):
        _store(tmp_path).account("b")
    with pytest.raises(KeyStoreError, match="exists"):
        _store(tmp_path).create("a")
    for bad in ("../x", "", "A", "x/y", "a" * 70):
        with pytest.raises(KeyStoreError, match="invalid key name"):
            _store(tmp_path).create(bad)


def test_rotation_keeps_the_old_key_retired_and_decryptable(tmp_path: Path) -> None:
    ks = _store(tmp_path)
    first = ks.create("bank")
    old, new = ks.rotate("bank")
    assert old == first and new != first
    assert ks.account("bank").address == new
    assert [a.address for a in _store(tmp_path).retired("bank")] == [first]
    assert ks.names() == ["bank"]


def test_change_password_reencrypts_everything(tmp_path: Path) -> None:
    ks = _store(tmp_path)
    a = ks.create("a")
    ks.rotate("a")
    ks.change_password("new")
    with pytest.raises(KeyStoreError):
        _store(tmp_path, "pw").account("a")
    fresh = _store(tmp_path, "new")
    assert fresh.account("a").address != a and fresh.retired("a")[0].address == a


def test_private_keys_never_appear_in_logs_or_reprs(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ks = _store(tmp_path)
    ks.create("x")
    key_hex = ks.account("x").key.hex()
    ks.rotate("x")
    texts = [caplog.text, repr(ks), str(ks)]
    texts += [p.read_text() for p in (tmp_path / "keys").glob("*.json")]
    assert all(key_hex.removeprefix("0x") not in t for t in texts)


def test_concurrent_account_calls_are_safe(tmp_path: Path) -> None:
    _store(tmp_path).create("x")
    ks = _store(tmp_path)
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(ks.account("x").address))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and len(seen) == 8
