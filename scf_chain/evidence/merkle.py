"""The evidence Merkle tree, bit for bit the contract's (EvidenceMerkle.sol).

leaf = keccak256(0x00 || docHash); node = keccak256(0x01 || min(a, b) || max(a, b)); a level with
an odd count promotes its last node; a proof lists sibling hashes bottom-up; one leaf is its own
root with an empty proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Hash import keccak as _keccak

from scf_chain.errors import EvidenceError


def keccak(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


def leaf_of(doc_hash: bytes) -> bytes:
    return keccak(b"\x00" + doc_hash)


def node_of(a: bytes, b: bytes) -> bytes:
    return keccak(b"\x01" + a + b) if a < b else keccak(b"\x01" + b + a)


def doc_hash_of(doc_key: bytes, fields_root: bytes) -> bytes:
    return keccak(doc_key + fields_root)


def root_of(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    h = leaf
    for sibling in proof:
        h = node_of(h, sibling)
    return h


def verify(leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_of(leaf, proof) == root


@dataclass(frozen=True)
class MerkleTree:
    """All levels of a tree over `leaves` (already leaf-hashed)."""

    levels: tuple[tuple[bytes, ...], ...]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> MerkleTree:
        if not leaves:
            raise EvidenceError("a Merkle tree needs at least one leaf")
        level = tuple(leaves)
        levels = [level]
        k = _keccak.new
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level) - 1, 2):
                a, b = level[i], level[i + 1]
                nxt.append(k(digest_bits=256, data=b"\x01" + (a + b if a < b else b + a)).digest())
            if len(level) % 2:
                nxt.append(level[-1])
            level = tuple(nxt)
            levels.append(level)
        return cls(tuple(levels))

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def __len__(self) -> int:
        return len(self.levels[0])

    def proof(self, index: int) -> list[bytes]:
        if not 0 <= index < len(self):
            raise EvidenceError(f"leaf index {index} out of range")
        out = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                out.append(level[sibling])
            index //= 2
        return out
