"""Validated trade documents: purchase orders, logistics events, invoices, and their unsalted keys."""

from __future__ import annotations

import abc
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from eth_utils import is_address, to_checksum_address
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from scf_chain.evidence import canonical
from scf_chain.evidence.merkle import keccak

DOC_PURCHASE_ORDER, DOC_LOGISTICS, DOC_INVOICE, DOC_MIXED = 1, 2, 3, 4


def _address(v: str) -> str:
    if not is_address(v):
        raise ValueError("not an Ethereum address")
    return to_checksum_address(v)


Address = Annotated[str, AfterValidator(_address)]
Number = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
# RFC 8785 (I-JSON) numbers are exact only below 2**53: 90 trillion yuan in cents is ample.
MAX_JSON_INT = 2**53


def json_int(v: Any) -> int:
    """A JSON integer as JSON Schema counts them: 5 or 5.0, never true, "5" or 5.5."""
    if isinstance(v, bool):
        raise ValueError("expected an integer, not a boolean")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer() and abs(v) < MAX_JSON_INT:
        return int(v)
    raise ValueError("expected an integer")


JsonInt = Annotated[int, BeforeValidator(json_int)]
Amount = Annotated[JsonInt, Field(ge=0, lt=MAX_JSON_INT)]


def _iso_text(pattern: str) -> Any:
    def check(v: Any) -> Any:
        if isinstance(v, (date, datetime)) or (isinstance(v, str) and re.match(pattern, v)):
            return v
        raise ValueError("expected ISO 8601 text")
    return BeforeValidator(check)


# Documents are strict (no "1" for 1, no 1 for true); dates come as ISO 8601 text only (lax
# parsing would also take a number of seconds).
IsoDate = Annotated[date, Field(strict=False), _iso_text(r"^\d{4}-\d{2}-\d{2}$")]
IsoDateTime = Annotated[datetime, Field(strict=False), _iso_text(r"^\d{4}-\d{2}-\d{2}[Tt ]")]


class Document(BaseModel, abc.ABC):
    """A trade document. `doc_key()` names it without salt: the same document always has it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: str  # each document type fixes it to a literal (the union's discriminator)

    @abc.abstractmethod
    def doc_key(self, submitter: str | None = None) -> bytes:
        """keccak256 of the RFC 8785 JSON of the fields that identify the document.

        `submitter` (an address) scopes the key to whoever submitted the document, so nobody
        can take another party's numbers: two submitters of "PO-17" of one buyer hold two
        documents. None gives the unscoped key of documents stored before keys were scoped.
        """

    @property
    @abc.abstractmethod
    def doc_type(self) -> int:
        """The EvidenceRegistry document type."""


def _key(identity: dict[str, str], submitter: str | None) -> bytes:
    if submitter is not None:
        identity = {**identity, "submitter": _address(submitter)}
    return keccak(canonical.dumps(identity))


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    sku: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=200)
    quantity: JsonInt = Field(gt=0, lt=MAX_JSON_INT)
    unit_price: Amount


class PurchaseOrder(Document):
    kind: Literal["purchase_order"] = "purchase_order"
    number: Number
    buyer: Address
    seller: Address
    currency: Currency = "CNY"
    lines: list[OrderLine] = Field(min_length=1, max_length=500)
    amount: Amount
    issue_date: IsoDate

    @model_validator(mode="after")
    def _amount_is_sum_of_lines(self) -> PurchaseOrder:
        total = sum(line.quantity * line.unit_price for line in self.lines)
        if total != self.amount:
            raise ValueError(f"amount {self.amount} is not the sum of the lines ({total})")
        return self

    @property
    def doc_type(self) -> int:
        return DOC_PURCHASE_ORDER

    def doc_key(self, submitter: str | None = None) -> bytes:
        return _key({"type": "purchase_order", "buyer": self.buyer, "number": self.number},
                    submitter)


class LogisticsEvent(Document):
    kind: Literal["logistics"] = "logistics"
    waybill: Number
    carrier: str = Field(min_length=1, max_length=100)
    order_number: Number
    event: Literal["pickup", "in_transit", "delivered"]
    timestamp: IsoDateTime
    location: str = Field("", max_length=200)
    shipper: Address
    consignee: Address
    signed_by: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _check(self) -> LogisticsEvent:
        if self.timestamp.tzinfo is None:
            raise ValueError("timestamp needs a time zone")
        if self.event == "delivered" and not self.signed_by:
            raise ValueError("a delivered event needs signed_by")
        return self

    @property
    def doc_type(self) -> int:
        return DOC_LOGISTICS

    def doc_key(self, submitter: str | None = None) -> bytes:
        # `carrier` is free text: only the submitter's address makes the waybill someone's
        return _key({"type": "logistics", "carrier": self.carrier, "waybill": self.waybill,
                     "event": self.event}, submitter)


class Invoice(Document):
    kind: Literal["invoice"] = "invoice"
    number: Number
    seller: Address
    buyer: Address
    order_number: Number
    currency: Currency = "CNY"
    amount: Annotated[JsonInt, Field(gt=0, lt=MAX_JSON_INT)]
    tax: Amount = 0
    issue_date: IsoDate

    @property
    def doc_type(self) -> int:
        return DOC_INVOICE

    def doc_key(self, submitter: str | None = None) -> bytes:
        # The key the receivable contract consumes forever: one invoice backs one receivable,
        # so it stays (seller, number) whoever submits. It is already scoped: only the seller
        # may submit an invoice (scf_chain.platform.evidence.submit).
        return keccak(canonical.dumps({"type": "invoice", "seller": self.seller,
                                     "number": self.number}))


AnyDocument = Annotated[PurchaseOrder | LogisticsEvent | Invoice, Field(discriminator="kind")]
