"""Anchoring batches, offline proof bundles, and their verification against the chain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3

from scf_chain.clients import Anchored, EvidenceRegistryClient
from scf_chain.contracts import artifacts
from scf_chain.errors import EvidenceError, TamperedEvidence
from scf_chain.evidence import canonical
from scf_chain.evidence.commit import Disclosure, SaltedDocument
from scf_chain.evidence.merkle import MerkleTree, doc_hash_of, keccak, leaf_of, root_of
from scf_chain.evidence.models import DOC_MIXED, JsonInt

BUNDLE_VERSION = 1
Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$")]


def _h(b: bytes) -> str:
    return "0x" + b.hex()


@dataclass(frozen=True)
class Batch:
    """Documents anchored under one root; `proof(i)` for document i."""

    documents: tuple[SaltedDocument, ...]
    tree: MerkleTree

    @classmethod
    def of(cls, documents: Sequence[SaltedDocument]) -> Batch:
        if not documents:
            raise EvidenceError("an evidence batch needs at least one document")
        leaves = [d.leaf for d in documents]
        if len(set(leaves)) != len(leaves):
            raise EvidenceError("a batch holds the same document twice")
        return cls(tuple(documents), MerkleTree.build(leaves))

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def doc_type(self) -> int:
        types = {d.document.doc_type for d in self.documents}
        return types.pop() if len(types) == 1 else DOC_MIXED

    @property
    def manifest_hash(self) -> bytes:
        return keccak(canonical.dumps([_h(d.doc_hash) for d in self.documents]))

    def proof(self, index: int) -> list[bytes]:
        return self.tree.proof(index)

    def anchor(self, registry: EvidenceRegistryClient) -> Anchored:
        return registry.anchor(self.root, self.doc_type, len(self.documents), self.manifest_hash)

    def bundle(self, index: int, chain_id: int, registry: str,
               fields: list[str] | None = None) -> ProofBundle:
        doc = self.documents[index]
        return make_bundle(doc, self.proof(index), self.root, chain_id, registry, fields)


def make_bundle(doc: SaltedDocument, proof: Sequence[bytes], root: bytes, chain_id: int,
                registry: str, fields: list[str] | None = None) -> ProofBundle:
    """A bundle disclosing `fields` (default: all) of an anchored document."""
    disclosure = doc.disclose(list(doc.salts) if fields is None else fields)
    return ProofBundle(chain_id=chain_id, registry=to_checksum_address(registry),
                       root=_h(root), leaf=_h(doc.leaf), doc_hash=_h(doc.doc_hash),
                       fields_root=_h(doc.fields_root), proof=[_h(p) for p in proof],
                       disclosure=disclosure)


class ProofBundle(BaseModel):
    """Everything an auditor needs to check a document with only an RPC URL (JSON, versioned)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    version: JsonInt = BUNDLE_VERSION
    chain_id: JsonInt
    registry: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    root: Hex32
    leaf: Hex32
    doc_hash: Hex32
    fields_root: Hex32
    proof: list[Hex32] = Field(max_length=64)
    disclosure: Disclosure


@dataclass(frozen=True)
class VerificationResult:
    ok: bool
    reason: str
    anchored_at: int | None = None
    anchorer: str | None = None
    revoked: bool = False
    disclosed: dict[str, Any] | None = None


class EvidenceChainView:
    """Read-only view of an EvidenceRegistry through any web3 connection."""

    def __init__(self, w3: Web3, registry: str) -> None:
        self.w3 = w3
        self.address = to_checksum_address(registry)
        self.contract = w3.eth.contract(address=self.address,
                                        abi=artifacts.load("EvidenceRegistry").abi)

    @classmethod
    def from_rpc(cls, rpc_url: str, registry: str) -> EvidenceChainView:
        return cls(Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30})), registry)

    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def get_root(self, root: bytes) -> tuple[str, int, int, bytes, int, bool]:
        return tuple(self.contract.functions.getRoot(root).call())  # type: ignore[return-value]

    def is_leaf_revoked(self, root: bytes, leaf: bytes) -> bool:
        return bool(self.contract.functions.isLeafRevoked(root, leaf).call())

    def verify_leaf(self, root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
        return bool(self.contract.functions.verifyLeaf(root, leaf, list(proof)).call())


def verify_bundle(bundle: ProofBundle, view: EvidenceChainView | None) -> VerificationResult:
    """Recompute every hash of the bundle, then check the root on chain. Never raises for tampering.

    With `view` None, only the offline part runs (the result says so).
    """
    b = bytes.fromhex
    d = bundle.disclosure
    try:
        d.check_fields()
    except TamperedEvidence as exc:
        return VerificationResult(False, str(exc))
    if _h(d.fields_root()) != bundle.fields_root:
        return VerificationResult(False, "the field commitments do not produce the stated fields "
                                         "root (a commitment was changed)")
    doc_hash = doc_hash_of(b(d.doc_key[2:]), b(bundle.fields_root[2:]))
    if _h(doc_hash) != bundle.doc_hash:
        return VerificationResult(False, "the document key and fields root do not produce the "
                                         "stated document hash")
    leaf = leaf_of(doc_hash)
    if _h(leaf) != bundle.leaf:
        return VerificationResult(False, "the stated leaf is not the document hash's leaf")
    proof = [b(p[2:]) for p in bundle.proof]
    root = b(bundle.root[2:])
    if root_of(leaf, proof) != root:
        return VerificationResult(False, "the proof does not lead from the leaf to the root "
                                         "(a proof step was changed)")
    disclosed = {f: x.value for f, x in d.disclosed.items()}
    if view is None:
        return VerificationResult(True, "consistent offline; not checked against the chain",
                                  disclosed=disclosed)
    if view.chain_id() != bundle.chain_id:
        return VerificationResult(False, f"the bundle is for chain {bundle.chain_id}, the node is "
                                         f"chain {view.chain_id()}")
    anchorer, _t, _c, _m, anchored_at, revoked = view.get_root(root)
    if not anchored_at:
        return VerificationResult(False, "the root was never anchored in this registry")
    if revoked:
        return VerificationResult(False, "the root was revoked", anchored_at, anchorer, True)
    if view.is_leaf_revoked(root, leaf):
        return VerificationResult(False, "the document was revoked", anchored_at, anchorer, True)
    if not view.verify_leaf(root, leaf, proof):  # the contract must agree with us
        return VerificationResult(False, "the registry does not accept the proof", anchored_at,
                                  anchorer)
    return VerificationResult(True, "verified against the anchored root", int(anchored_at),
                              str(anchorer), False, disclosed)
