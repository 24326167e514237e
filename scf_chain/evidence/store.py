"""Documents off-chain, encrypted at rest: a data key per document (AES-GCM) wrapped by a master key."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from scf_chain.errors import DocumentAccessDenied, DocumentNotFound, DocumentTampered, EvidenceError
from scf_chain.files import PRIVATE_FILE, private_dir, tighten, write_private

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
AUDITOR = "*auditor"


class MasterKey:
    """A 256-bit key-encryption key with an id (the first bytes of its hash)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise EvidenceError("a master key is 32 bytes")
        self._key = key
        self.key_id = hashlib.sha256(b"scf-master-key" + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id})"

    @classmethod
    def generate(cls, path: Path) -> MasterKey:
        """A new key in a new file: 0600 from its first byte, never half-written under its name
        (FileExistsError rather than overwriting a key that wraps documents)."""
        if not path.parent.exists():
            private_dir(path.parent)
        key = secrets.token_bytes(32)
        write_private(path, key)
        return cls(key)

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        tighten(Path(path), PRIVATE_FILE)  # a key written before modes were enforced
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise EvidenceError(f"no master key file at {path}") from None
        if len(raw) != 32:  # also taken: the key as 64 hex characters (`openssl rand -hex 32`)
            text = raw.strip()
            if len(text) == 64 and all(c in b"0123456789abcdefABCDEF" for c in text):
                return cls(bytes.fromhex(text.decode()))
            raise EvidenceError(
                f"the master key file {path} (SCF_MASTER_KEY_FILE) holds {len(raw)} bytes: it "
                "must hold 32 raw bytes (`head -c 32 /dev/urandom > FILE`) or 64 hex characters "
                "(`openssl rand -hex 32 > FILE`)")
        return cls(raw)

    def wrap(self, data_key: bytes, doc_id: str, context: bytes = b"") -> bytes:
        """nonce || AES-GCM(data key), bound to `doc_id` and any `context` (associated data)."""
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self._key).encrypt(nonce, data_key, _wrap_aad(doc_id, context))

    def unwrap(self, wrapped: bytes, doc_id: str, context: bytes = b"") -> bytes:
        """The data key; InvalidTag if the key, the id or the context differ from wrapping."""
        return AESGCM(self._key).decrypt(wrapped[:12], wrapped[12:], _wrap_aad(doc_id, context))


def _wrap_aad(doc_id: str, context: bytes) -> bytes:
    return b"wrap:" + doc_id.encode() + b"\x00" + context


@dataclass
class StoredDocument:
    """What the store says about a document (never its content)."""

    doc_id: str
    sha256: str
    size: int
    owner: str
    readers: list[str]
    created_at: int
    master_key_id: str
    version: int = 1
    wrapped_key: str = field(default="", repr=False)

    def authenticated(self) -> bytes:
        """The metadata the wrapped key is bound to: every field but the wrapped key itself.

        Editing any of them on disk (readers, owner, hash, version, key id) makes unwrapping
        fail, so tampered metadata is reported, never trusted.
        """
        fields = asdict(self)
        del fields["wrapped_key"]
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


class DocumentStore:
    """`<root>/<id>.bin` holds nonce||ciphertext, `<id>.json` the metadata and wrapped data key.

    The ciphertext is bound to the document id and version (associated data) and the wrapped key
    to the id, so files swapped between documents fail to decrypt instead of yielding the wrong
    document. Plaintext is never written to disk.
    """

    def __init__(self, root: Path, master: MasterKey) -> None:
        self.root = private_dir(Path(root))
        self.master = master
        self._lock = threading.RLock()  # grant and rewrap rewrite metadata files

    def _paths(self, doc_id: str) -> tuple[Path, Path]:
        if not isinstance(doc_id, str) or not ID_RE.match(doc_id):
            raise EvidenceError(f"invalid document id {doc_id!r}")
        return self.root / f"{doc_id}.bin", self.root / f"{doc_id}.json"

    @staticmethod
    def _atomic(path: Path, data: bytes) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.unlink(missing_ok=True)  # a stale one would keep its mode under O_TRUNC
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def exists(self, doc_id: str) -> bool:
        return self._paths(doc_id)[1].exists()

    def put(self, doc_id: str, content: bytes, owner: str, readers: set[str] | None = None
            ) -> StoredDocument:
        blob, meta_path = self._paths(doc_id)
        if meta_path.exists():
            raise EvidenceError(f"document {doc_id!r} exists")
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        meta = StoredDocument(doc_id, hashlib.sha256(content).hexdigest(), len(content), owner,
                              sorted(readers or set()), int(time.time()), self.master.key_id)
        ct = AESGCM(data_key).encrypt(nonce, content, f"doc:{doc_id}:v{meta.version}".encode())
        meta.wrapped_key = self.master.wrap(data_key, doc_id, meta.authenticated()).hex()
        with self._lock:
            self._atomic(blob, nonce + ct)
            self._atomic(meta_path, json.dumps(asdict(meta)).encode())
        return meta

    def metadata(self, doc_id: str) -> StoredDocument:
        _, meta_path = self._paths(doc_id)
        try:
            return StoredDocument(**json.loads(meta_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DocumentNotFound(f"no document {doc_id!r}") from None
        except (ValueError, TypeError) as exc:
            raise DocumentTampered(f"metadata of {doc_id!r} is corrupt") from exc

    def list(self, owner: str | None = None) -> builtins.list[StoredDocument]:
        """Metadata of every document (of `owner` only, if given), by id."""
        docs = [self.metadata(p.stem) for p in sorted(self.root.glob("*.json"))]
        return [d for d in docs if owner is None or d.owner == owner]

    def may_read(self, meta: StoredDocument, reader: str, is_auditor: bool = False) -> bool:
        """The owner, a granted reader, or an auditor (`is_auditor` or the reader "*auditor")."""
        return is_auditor or reader == AUDITOR or reader == meta.owner or reader in meta.readers

    def _data_key(self, meta: StoredDocument, master: MasterKey) -> bytes:
        """Unwrap the data key, which also authenticates the metadata it is bound to."""
        try:
            return master.unwrap(bytes.fromhex(meta.wrapped_key), meta.doc_id,
                                 meta.authenticated())
        except (InvalidTag, ValueError) as exc:
            raise DocumentTampered(f"document {meta.doc_id!r}: metadata or wrapped key "
                                   "fails authentication") from exc

    def get(self, doc_id: str, reader: str, is_auditor: bool = False) -> bytes:
        """The plaintext, for the owner, a granted reader, or an auditor; checked by SHA-256."""
        meta = self.metadata(doc_id)
        if meta.doc_id != doc_id:
            raise DocumentTampered(f"metadata of {doc_id!r} names document {meta.doc_id!r}")
        if meta.master_key_id != self.master.key_id:
            raise DocumentTampered(f"{doc_id!r} is wrapped by master key {meta.master_key_id}")
        data_key = self._data_key(meta, self.master)  # access is decided on authentic metadata
        if not self.may_read(meta, reader, is_auditor):
            raise DocumentAccessDenied(f"{reader!r} may not read document {doc_id!r}")
        blob, _ = self._paths(doc_id)
        try:
            raw = blob.read_bytes()
        except FileNotFoundError:
            raise DocumentTampered(f"the ciphertext of {doc_id!r} is missing") from None
        try:
            content = AESGCM(data_key).decrypt(raw[:12], raw[12:],
                                               f"doc:{doc_id}:v{meta.version}".encode())
        except (InvalidTag, ValueError) as exc:
            raise DocumentTampered(f"document {doc_id!r} fails authentication") from exc
        if hashlib.sha256(content).hexdigest() != meta.sha256:
            raise DocumentTampered(f"document {doc_id!r} does not match its recorded hash")
        return content

    def grant(self, doc_id: str, reader: str) -> StoredDocument:
        """Let `reader` decrypt the document (the data key is re-wrapped for the new metadata)."""
        with self._lock:
            meta = self.metadata(doc_id)
            if reader not in meta.readers:
                data_key = self._data_key(meta, self.master)
                meta.readers = sorted({*meta.readers, reader})
                meta.wrapped_key = self.master.wrap(data_key, doc_id, meta.authenticated()).hex()
                self._atomic(self._paths(doc_id)[1], json.dumps(asdict(meta)).encode())
            return meta

    def rewrap_all(self, new_master: MasterKey) -> int:
        """Re-wrap every data key under `new_master` (documents are not re-encrypted)."""
        count = 0
        with self._lock:
            for meta_path in sorted(self.root.glob("*.json")):
                meta = self.metadata(meta_path.stem)
                if meta.master_key_id == new_master.key_id:
                    continue  # already re-wrapped by an interrupted earlier run
                data_key = self._data_key(meta, self.master)
                meta.master_key_id = new_master.key_id
                meta.wrapped_key = new_master.wrap(data_key, meta.doc_id,
                                                   meta.authenticated()).hex()
                self._atomic(meta_path, json.dumps(asdict(meta)).encode())
                count += 1
            self.master = new_master
        return count
