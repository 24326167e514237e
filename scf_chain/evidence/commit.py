"""Salted per-field commitments: a holder can disclose chosen fields and prove them (OpenAttestation style).

commitment(f) = keccak256(RFC 8785 JSON of {"field": f, "salt": 0x…32 bytes, "value": v}), for
every top-level field; fields_root = keccak256 of the commitments sorted and concatenated;
doc_hash = keccak256(doc_key || fields_root), as the contract computes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from scf_chain.errors import EvidenceError, TamperedEvidence
from scf_chain.evidence import canonical
from scf_chain.evidence.merkle import doc_hash_of, keccak, leaf_of
from scf_chain.evidence.models import AnyDocument, Document

_documents: TypeAdapter[Any] = TypeAdapter(AnyDocument)
HEX32 = r"^0x[0-9a-f]{64}$"


def commitment(field: str, salt: str, value: Any) -> bytes:
    return keccak(canonical.dumps({"field": field, "salt": salt, "value": value}))


def fields_root_of(commitments: dict[str, bytes]) -> bytes:
    """keccak256 of the commitments sorted by value and concatenated (OpenAttestation's target
    hash): every commitment is needed to recompute it, and a disclosure carries them all."""
    return keccak(b"".join(sorted(commitments.values())))


def parse_document(data: dict[str, Any]) -> Document:
    return _documents.validate_python(data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SaltedDocument:
    """A document with one fresh salt per field; the salts are as secret as the document."""

    document: Document
    salts: dict[str, str]

    submitter: str | None = None  # whose number space the key is in (Document.doc_key)

    @classmethod
    def create(cls, document: Document, submitter: str | None = None) -> SaltedDocument:
        fields = document.model_dump(mode="json")
        return cls(document, {f: "0x" + secrets.token_bytes(32).hex() for f in fields},
                   submitter)

    @cached_property
    def fields(self) -> dict[str, Any]:
        return dict(self.document.model_dump(mode="json"))

    # The derived hashes are cached: a SaltedDocument is immutable (frozen document and salts).

    @cached_property
    def commitments(self) -> dict[str, bytes]:
        return {f: commitment(f, self.salts[f], v) for f, v in self.fields.items()}

    @cached_property
    def doc_key(self) -> bytes:
        return self.document.doc_key(self.submitter)

    @cached_property
    def fields_root(self) -> bytes:
        return fields_root_of(self.commitments)

    @cached_property
    def doc_hash(self) -> bytes:
        return doc_hash_of(self.doc_key, self.fields_root)

    @cached_property
    def leaf(self) -> bytes:
        return leaf_of(self.doc_hash)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"document": dict(self.fields), "salts": dict(self.salts)}
        if self.submitter is not None:
            out["submitter"] = self.submitter
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SaltedDocument:
        doc = parse_document(data["document"])
        salts = dict(data["salts"])
        if set(salts) != set(doc.model_dump(mode="json")):
            raise EvidenceError("salts do not cover exactly the document's fields")
        submitter = data.get("submitter")  # absent in documents stored before keys were scoped
        if submitter is not None and not isinstance(submitter, str):
            raise EvidenceError("the submitter is an address")
        return cls(doc, salts, submitter)

    def disclose(self, fields: list[str]) -> Disclosure:
        """The chosen fields with values and salts, and every field's commitment."""
        unknown = set(fields) - set(self.salts)
        if unknown:
            raise EvidenceError(f"no such field(s): {', '.join(sorted(unknown))}")
        values = dict(self.fields)
        return Disclosure(
            kind=values["kind"], doc_key="0x" + self.doc_key.hex(),
            commitments={f: "0x" + c.hex() for f, c in self.commitments.items()},
            disclosed={f: DisclosedField(value=values[f], salt=self.salts[f]) for f in fields})


class DisclosedField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    value: Any
    salt: str = Field(pattern=HEX32)


class Disclosure(BaseModel):
    """Every field's commitment, and the chosen fields' values and salts: enough for doc_hash."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: str
    doc_key: str = Field(pattern=HEX32)
    commitments: dict[str, Annotated[str, Field(pattern=HEX32)]] = Field(min_length=1)
    disclosed: dict[str, DisclosedField]

    def check_fields(self) -> None:
        """Each disclosed value and salt must open its commitment; names the first that does not."""
        for f, d in sorted(self.disclosed.items()):
            c = self.commitments.get(f)
            if c is None:
                raise TamperedEvidence(f"field {f!r} is disclosed but was never committed")
            if commitment(f, d.salt, d.value).hex() != c[2:]:
                raise TamperedEvidence(f"field {f!r} does not match its commitment "
                                       f"(its value or its salt was changed)")
        if "kind" in self.disclosed and self.disclosed["kind"].value != self.kind:
            raise TamperedEvidence("field 'kind' contradicts the disclosure's kind")

    def fields_root(self) -> bytes:
        return fields_root_of({f: bytes.fromhex(c[2:]) for f, c in self.commitments.items()})

    def doc_hash(self) -> bytes:
        self.check_fields()
        return doc_hash_of(bytes.fromhex(self.doc_key[2:]), self.fields_root())
