"""An encrypted keystore: one Ethereum v3 keystore file per named key; keys never leave but to sign.

Two namespaces: service keys (`operator`, `keeper`, a deployer: whatever `scf deploy --key` and
`scf keeper --key` name) are files at the top, participants' keys live in `participants/` and
are named `@<participant>`. No participant name can reach a service key, whatever it is.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from scf_chain.errors import KeyStoreError
from scf_chain.files import PRIVATE_FILE, private_dir

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PARTICIPANT = "@"  # the prefix of a participant key's name (one character: names fit 64)
PARTICIPANTS_DIR = "participants"


class KeyStore:
    """Named keys under `path`, each encrypted with `password` (scrypt KDF by default).

    Decrypted accounts are cached in memory for this instance only (scrypt is slow on purpose);
    nothing here logs, prints or returns a private key except `account()`, which returns the
    signer itself.
    """

    def __init__(self, path: Path, password: str, kdf: str = "scrypt",
                 iterations: int | None = None) -> None:
        if not password:
            raise KeyStoreError("a keystore needs a non-empty password")
        self.path = private_dir(Path(path))  # 0700, and so is any parent it has to make
        self._password = password
        self._kdf, self._iterations = kdf, iterations
        self._cache: dict[str, LocalAccount] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"KeyStore({str(self.path)!r}, keys={len(self.names())})"

    @staticmethod
    def participant(name: str) -> str:
        """The key name of participant `name` (in the participants' namespace)."""
        return PARTICIPANT + name

    # -- files ---------------------------------------------------------------------------------------
    def _file(self, name: str) -> Path:
        bare = name[len(PARTICIPANT):] if isinstance(name, str) and name.startswith(
            PARTICIPANT) else name
        if not isinstance(bare, str) or not NAME_RE.match(bare):
            raise KeyStoreError(f"invalid key name {name!r}: use a-z, 0-9, '-', '_' (max 63), "
                                f"after '{PARTICIPANT}' for a participant's key")
        if bare is name:
            return self.path / f"{name}.json"
        return self.path / PARTICIPANTS_DIR / f"{bare}.json"

    def _folder_of(self, path: Path) -> None:
        if not path.parent.is_dir():
            path.parent.mkdir(mode=0o700, exist_ok=True)
            os.chmod(path.parent, 0o700)

    def _key_files(self) -> list[Path]:
        """Every key file, active and retired, of both namespaces."""
        return sorted([*self.path.glob("*.json"), *(self.path / PARTICIPANTS_DIR).glob("*.json")])

    def _encrypt(self, key: bytes, password: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"kdf": self._kdf}
        if self._iterations is not None:
            kwargs["iterations"] = self._iterations
        return dict(Account.encrypt(key, password, **kwargs))

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        self._folder_of(path)
        tmp = path.with_suffix(".tmp")
        # a stale temporary file (a crash) keeps its mode under O_TRUNC: make a new one, 0600
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise KeyStoreError(f"no key named {path.stem!r}") from None
        except ValueError as exc:
            raise KeyStoreError(f"key file {path.name} is corrupt") from exc

    # -- API -------------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Service keys by name, then participants' keys as `@<participant>`."""
        def active(folder: Path) -> list[str]:
            return sorted(p.stem for p in folder.glob("*.json") if ".retired" not in p.name)
        return active(self.path) + [PARTICIPANT + n
                                    for n in active(self.path / PARTICIPANTS_DIR)]

    def address_of(self, name: str) -> str:
        return to_checksum_address("0x" + self._read(self._file(name))["address"])

    def create(self, name: str) -> str:
        """A new random key under `name`; returns its address."""
        return self.import_key(name, Account.create().key)

    def import_key(self, name: str, private_key: bytes | str) -> str:
        path = self._file(name)
        with self._lock:
            if path.exists():
                raise KeyStoreError(f"a key named {name!r} exists")
            try:
                acct = Account.from_key(private_key)
            except Exception:  # noqa: BLE001 - eth-keys raises its own types; none may echo the key
                raise KeyStoreError("not a valid private key") from None
            self._write(path, self._encrypt(acct.key, self._password))
            self._cache[name] = acct
            return str(acct.address)

    def account(self, name: str) -> LocalAccount:
        """The signer for `name` (decrypted once per KeyStore instance)."""
        path = self._file(name)
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None:
                return cached
            data = self._read(path)
            try:
                key = Account.decrypt(data, self._password)
            except ValueError:
                raise KeyStoreError(f"cannot decrypt key {name!r}: wrong password") from None
            acct: LocalAccount = Account.from_key(key)
            self._cache[name] = acct
            return acct

    def forget(self, name: str) -> None:
        """Drop `name`'s decrypted key, so the next `account` reads the file again (another
        process rotated it)."""
        with self._lock:
            self._cache.pop(name, None)

    def rotate(self, name: str) -> tuple[str, str]:
        """Replace `name`'s key with a new one; the old stays encrypted as `<name>.<t>.retired`.

        Returns (old address, new address). On its own this only swaps the key file: for a
        participant, `scf_chain.platform.rotation.rotate` also moves roles, tokens and money on chain.
        """
        path = self._file(name)
        with self._lock:
            old = self.account(name)
            stamp = int(time.time() * 1000)
            while (retired := path.with_name(f"{path.stem}.{stamp}.retired.json")).exists():
                stamp += 1  # two rotations in one millisecond must not overwrite a retired key
            os.replace(path, retired)
            self._cache.pop(name, None)
            try:
                new = self.create(name)
            except Exception:
                os.replace(retired, path)
                raise
            return str(old.address), new

    def retired(self, name: str) -> list[LocalAccount]:
        """Old keys of `name` (to move what they still hold)."""
        path = self._file(name)  # validates the name before it becomes a glob pattern
        out: list[LocalAccount] = []
        files = path.parent.glob(f"{path.stem}.*.retired.json")
        for p in sorted(files, key=lambda f: int(f.name.split(".")[1])):
            try:
                out.append(Account.from_key(Account.decrypt(self._read(p), self._password)))
            except ValueError:
                raise KeyStoreError(f"cannot decrypt {p.name}: wrong password") from None
        return out

    def change_password(self, new_password: str) -> None:
        """Re-encrypt every key (active and retired) under a new password, atomically per file."""
        if not new_password:
            raise KeyStoreError("a keystore needs a non-empty password")
        with self._lock:
            files = self._key_files()
            plain = []
            for p in files:  # decrypt everything first: a wrong password changes nothing
                try:
                    plain.append((p, Account.decrypt(self._read(p), self._password)))
                except ValueError:
                    raise KeyStoreError(f"cannot decrypt {p.name}: wrong password") from None
            for p, key in plain:
                self._write(p, self._encrypt(key, new_password))
            self._password = new_password

    def retire(self, name: str) -> str:
        """Set `name`'s key aside as `<name>.<t>.retired` (still encrypted, still listed by
        `retired()`); the name is then free for a new or imported key. Returns its address."""
        path = self._file(name)
        with self._lock:
            address = self.address_of(name)
            stamp = int(time.time() * 1000)
            while (retired := path.with_name(f"{path.stem}.{stamp}.retired.json")).exists():
                stamp += 1
            os.replace(path, retired)
            self._cache.pop(name, None)
            return address

    def keystore_json(self, name: str) -> dict[str, Any]:
        """`name`'s key file as it is: a standard Ethereum v3 keystore (encrypted with this
        keystore's password), which geth, Foundry's `cast wallet` and eth-account read."""
        return self._read(self._file(name))

    def delete(self, name: str) -> None:
        path = self._file(name)
        with self._lock:
            if not path.exists():
                raise KeyStoreError(f"no key named {name!r}")
            path.unlink()
            self._cache.pop(name, None)

    def adopt_as_participant(self, name: str) -> str:
        """Move key `name` (and its retired keys) from the service namespace to the
        participants', as `@<name>`: keystores made before the namespaces kept participants'
        keys at the top. Safe to repeat (an interrupted move is finished)."""
        src = self._file(name)
        key_name = self.participant(name)
        dst = self._file(key_name)
        with self._lock:
            self._folder_of(dst)
            for old in sorted(src.parent.glob(f"{name}.*.retired.json")):
                target = dst.parent / old.name
                if not target.exists():
                    os.replace(old, target)
            if src.exists():
                if dst.exists():
                    raise KeyStoreError(f"both {src.name} and {PARTICIPANTS_DIR}/{dst.name} "
                                        "exist: move one by hand")
                os.replace(src, dst)
            elif not dst.exists():
                raise KeyStoreError(f"no key named {name!r}")
            self._cache.pop(name, None)
        return key_name
