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


def test_imported_key_round_trips_and_is_never_returned_elsewhere(tmp_path: Path) -> None:
    key = bytes(range(1, 33))
    ks = _store(tmp_path)
    address = ks.import_key("core", "0x" + key.hex())
    assert _store(tmp_path).account("core").key == key
    assert ks.address_of("core") == address
    with pytest.raises(KeyStoreError, match="not a valid private key"):
        ks.import_key("junk", b"short")
    assert ks.names() == ["core"]


def test_wrong_password_changes_nothing(tmp_path: Path) -> None:
    _store(tmp_path).create("a")
    before = {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()}
    with pytest.raises(KeyStoreError, match="wrong password"):
        _store(tmp_path, "other").change_password("new")
    assert {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()} == before
    assert _store(tmp_path).account("a")


def test_rotating_twice_keeps_every_retired_key(tmp_path: Path) -> None:
    ks = _store(tmp_path)
    first = ks.create("bank")
    _, second = ks.rotate("bank")
    _, third = ks.rotate("bank")
    assert [a.address for a in ks.retired("bank")] == [first, second]
    assert ks.address_of("bank") == third
    with pytest.raises(KeyStoreError, match="invalid key name"):
        ks.retired("*")


def test_delete_forgets_the_key(tmp_path: Path) -> None:
    ks = _store(tmp_path)
    ks.create("gone")
    ks.delete("gone")
    assert ks.names() == []
    with pytest.raises(KeyStoreError, match="no key"):
        ks.account("gone")
    with pytest.raises(KeyStoreError, match="no key"):
        ks.delete("gone")


def test_no_operation_logs_or_shows_a_key(tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = bytes(range(7, 39))
    ks = _store(tmp_path)
    ks.import_key("p", key)
    ks.account("p")
    ks.address_of("p")
    _, _ = ks.rotate("p")
    ks.change_password("pw2")
    retired = _store(tmp_path, "pw2").retired("p")
    for bad in (lambda: _store(tmp_path, "wrong").account("p"),
                lambda: ks.import_key("p", key), lambda: ks.create("../p")):
        with pytest.raises(KeyStoreError) as info:
            bad()
        assert key.hex() not in str(info.value)
    ks.delete("p")
    shown = caplog.text + repr(ks) + str(ks) + repr(retired)
    assert key.hex() not in shown.lower()


def test_participant_keys_live_apart_from_service_keys(tmp_path: Path) -> None:
    ks = _store(tmp_path)
    service = ks.create("keeper")
    participant = ks.create(KeyStore.participant("keeper"))
    assert service != participant
    assert ks.names() == ["keeper", "@keeper"]
    assert (tmp_path / "keys" / "participants" / "keeper.json").exists()
    assert stat.S_IMODE((tmp_path / "keys" / "participants").stat().st_mode) == 0o700
    again = _store(tmp_path)
    assert again.account("keeper").address == service
    assert again.account("@keeper").address == participant
    old, new = again.rotate("@keeper")  # a participant's rotation stays in its namespace
    assert old == participant and again.account("keeper").address == service
    assert [a.address for a in again.retired("@keeper")] == [participant]
    assert again.retired("keeper") == []
    again.change_password("new")  # both namespaces are re-encrypted
    fresh = _store(tmp_path, "new")
    assert (fresh.account("keeper").address, fresh.account("@keeper").address) == (service, new)
    for bad in ("@", "@@x", "@../x", "x@", "@A"):
        with pytest.raises(KeyStoreError, match="invalid key name"):
            fresh.create(bad)


def test_a_key_of_a_participant_made_before_namespaces_is_moved_once(tmp_path: Path) -> None:
    ks = _store(tmp_path)
    first = ks.create("supplier-a")
    _, second = ks.rotate("supplier-a")
    assert ks.adopt_as_participant("supplier-a") == "@supplier-a"
    assert ks.adopt_as_participant("supplier-a") == "@supplier-a"  # again: nothing to do
    again = _store(tmp_path)
    assert again.names() == ["@supplier-a"]
    assert again.account("@supplier-a").address == second
    assert [a.address for a in again.retired("@supplier-a")] == [first]
    with pytest.raises(KeyStoreError, match="no key"):
        again.adopt_as_participant("nobody")
