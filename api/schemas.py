"""Request and response bodies. Amounts and ids are uint256: decimal strings (numbers below 2**53)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from scf_chain.contracts.encoding import MAX_BATCH_RECIPIENTS
from scf_chain.evidence.models import JsonInt, json_int

UINT_PATTERN = r"^[0-9]{1,78}$"
MAX_UINT = 2**256 - 1
# JSON numbers are exact only up to 2**53 - 1 in most parsers (I-JSON, RFC 7493): above it an
# amount travels as a decimal string.
MAX_NUMBER = 2**53 - 1


def _uint(v: Any) -> int:
    if isinstance(v, str):
        if not (v.isascii() and v.isdigit() and len(v) <= 78):
            raise ValueError("expected a non-negative integer as a decimal string")
        n = int(v)
    else:
        n = json_int(v)
    if not 0 <= n <= MAX_UINT:
        raise ValueError("out of the uint256 range")
    return n


def _uint_in(v: Any) -> int:
    if not isinstance(v, str) and json_int(v) > MAX_NUMBER:
        raise ValueError("send integers above 2**53 - 1 as decimal strings")
    return _uint(v)


_as_string = PlainSerializer(lambda v: str(v), return_type=str, when_used="json")
_out_schema = WithJsonSchema({"type": "string", "pattern": UINT_PATTERN}, mode="serialization")
# A uint256 the gateway answers with (a decimal string in JSON).
Uint = Annotated[int, BeforeValidator(_uint), _as_string, _out_schema]
# A uint256 in a request: a decimal string, or a JSON number up to 2**53 - 1.
UintIn = Annotated[
    int,
    BeforeValidator(_uint_in),
    _as_string,
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": UINT_PATTERN},
                              {"type": "integer", "minimum": 0, "maximum": MAX_NUMBER}]},
                   mode="validation"),
    _out_schema,
]
Timestamp = Annotated[JsonInt, Field(ge=0, le=2**40 - 1, description="unix seconds")]
Party = Annotated[str, Field(min_length=1, max_length=64,
                             description="a participant name, or a 0x address")]
RoleName = Literal["debtor", "supplier", "financier", "anchorer", "auditor"]
T = TypeVar("T")


class In(BaseModel):
    """A request body: strict (no "1" for 1, no 1 or "yes" for true), unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class Tx(BaseModel):
    tx_hash: str
    block_number: int
    gas_used: int


# -- participants -------------------------------------------------------------------------------------
class ParticipantIn(In):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    display_name: str = Field(min_length=1, max_length=200)
    roles: list[RoleName] = Field(min_length=1, max_length=5)
    dev_funds: UintIn = Field(0, description="dev chains only: test settlement money to mint")
    custody: Literal["custodial"] = Field(
        "custodial", description="custodial: the gateway makes and keeps the signing key")


class ExternalParticipantIn(ParticipantIn):
    """A participant that holds its own key: its address, no key in the gateway's keystore; its
    writes go through /prepare/<route> and /custody/submit (docs/sdk.md)."""

    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")

    custody: Literal["external"] = Field(  # type: ignore[assignment]
        description="external: the participant signs its own transactions")
    address: str = Field(pattern=r"^0x(?!0{40})[0-9a-fA-F]{40}$",
                         description="the participant's own address (not the zero address)")

class ParticipantOut(BaseModel):
    name: str
    display_name: str
    address: str
    roles: list[str]
    created_at: int
    custody: str = Field("custodial", description="custodial (key in the gateway's keystore) "
                                                  "or external (signs itself)")


API_KEY_DOC = ("the API key's secret, in the first answer only (only its hash is kept); null when "
               "the answer is replayed for a retried Idempotency-Key (see `detail`)")


class ParticipantCreated(BaseModel):
    participant: ParticipantOut
    key_id: str
    api_key: str | None = Field(description=API_KEY_DOC)
    detail: str | None = Field(None, description="why `api_key` is null, and what to do")


class RolesIn(In):
    roles: list[RoleName] = Field(min_length=1, max_length=5)


class KeyRotationOut(BaseModel):
    """A participant's signing key replaced: what moved from the old address to the new."""

    participant: str
    old_address: str
    new_address: str
    resumed: bool = Field(description="an interrupted earlier rotation was finished")
    tokens_moved: list[Uint]
    debts_moved: list[Uint] = Field(description="slots whose debtor is now the new address")
    money_moved: dict[str, Uint] = Field(description="settlement token address -> amount")
    allowances_given: dict[str, Uint] = Field(
        description="settlement token address -> allowance the new address gave the "
                    "receivable contract (as the old one had)")
    gas_moved_wei: Uint
    tx_hashes: list[str]


class ApiKeyInfo(BaseModel):
    key_id: str
    participant: str
    created_at: int
    revoked_at: int | None


class ApiKeyOut(BaseModel):
    key_id: str
    participant: str
    api_key: str | None = Field(description=API_KEY_DOC)
    detail: str | None = Field(None, description="why `api_key` is null, and what to do")


class CreditLimitIn(In):
    limit: UintIn


class PolicyIn(In):
    min_unit: UintIn
    max_tenor_s: Annotated[JsonInt, Field(ge=1, le=2**40 - 1)]
    split_allowed: bool
    transfer_allowed: bool


class PolicyIO(BaseModel):
    """The policy as read (the request body is `PolicyIn`)."""

    min_unit: Uint
    max_tenor_s: int
    split_allowed: bool
    transfer_allowed: bool


# -- receivables --------------------------------------------------------------------------------------
class ApplyIn(In):
    debtor: Party
    face_value: UintIn
    maturity: Timestamp
    invoice_doc_id: str = Field(min_length=1, max_length=64)
    order_doc_id: str = Field(min_length=1, max_length=64)
    delivery_doc_id: str = Field(min_length=1, max_length=64)
    settlement_token: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$")


class RejectIn(In):
    reason: str = Field("", max_length=31)


class ReceivableOut(BaseModel):
    slot: Uint
    debtor: str
    creditor: str
    face_value: Uint
    settlement_token: str | None
    maturity: int
    status: str = Field(description="as the contract's statusOf: pending, active, rejected, "
                        "withdrawn, or (derived from chain time and payments) matured, overdue, "
                        "settled")
    stored_status: str = Field(description="pending, active, rejected or withdrawn (as stored)")
    repaid: Uint
    paid_out: Uint
    invoice_key: str
    evidence_root: str
    first_token_id: Uint | None
    collect_enabled: bool


class AppliedOut(BaseModel):
    slot: Uint
    tx: Tx


class ConfirmedOut(BaseModel):
    slot: Uint
    token_id: Uint
    face_value: Uint
    tx: Tx


# -- tokens -------------------------------------------------------------------------------------------
class SplitIn(In):
    to: Party
    value: UintIn


class SplitPartIn(In):
    to: Party
    value: UintIn


class SplitManyIn(In):
    """One token's value to many participants: each part a new token for its recipient."""

    parts: list[SplitPartIn] = Field(min_length=1, max_length=MAX_BATCH_RECIPIENTS,
                                     description=f"1 to {MAX_BATCH_RECIPIENTS} parts: a recipient "
                                                 "and the value it receives")


class RedeemManyIn(In):
    """Tokens to redeem, of any receivables."""

    token_ids: list[UintIn] = Field(min_length=1, max_length=MAX_BATCH_RECIPIENTS,
                                    json_schema_extra={"uniqueItems": True},
                                    description=f"1 to {MAX_BATCH_RECIPIENTS} token ids, "
                                                "each at most once")

    @model_validator(mode="after")
    def _each_once(self) -> RedeemManyIn:
        if len(set(self.token_ids)) != len(self.token_ids):
            raise ValueError("a token id appears more than once")
        return self


class MergeIn(In):
    into_token_id: UintIn
    value: UintIn


class TransferIn(In):
    to: Party


class TokenOut(BaseModel):
    token_id: Uint
    slot: Uint
    owner: str
    value: Uint
    parent_token_id: Uint | None
    burned: bool
    redeemed: Uint


class MovedOut(BaseModel):
    from_token_id: Uint
    token_id: Uint
    value: Uint
    tx: Tx


class SplitPartOut(BaseModel):
    to: str
    token_id: Uint
    value: Uint


class SplitManyOut(BaseModel):
    from_token_id: Uint
    parts: list[SplitPartOut]
    tx: Tx


class TransferredOut(BaseModel):
    token_id: Uint
    to: str
    tx: Tx


# -- financing ----------------------------------------------------------------------------------------
class OfferIn(In):
    token_id: UintIn
    value: UintIn
    financier: Party
    price: UintIn
    expiry: Timestamp
    registration_ref: str = Field(
        "", max_length=128,
        description="the financing's registration number in the PBoC movable-property registry "
                    "(hashed to bytes32 on chain)")


class OfferOut(BaseModel):
    offer_id: Uint
    slot: Uint
    holder: str
    financier: str
    source_token_id: Uint
    escrow_token_id: Uint
    value: Uint
    price: Uint
    expiry: int
    status: str
    registration_ref: str


class FinancedOut(BaseModel):
    offer_id: Uint
    token_id: Uint
    value: Uint
    price: Uint
    tx: Tx


class CancelledOut(BaseModel):
    offer_id: Uint
    returned_to_token_id: Uint
    tx: Tx


# -- settlement ---------------------------------------------------------------------------------------
class RepayIn(In):
    amount: UintIn


class CollectionIn(In):
    enabled: bool = True


class RepaidOut(BaseModel):
    slot: Uint
    amount: Uint
    total_repaid: Uint
    tx: Tx


class HoldingOut(BaseModel):
    token_id: Uint
    owner: str
    value: Uint
    due: Uint


class CollectionOut(BaseModel):
    """Automatic collection by the keeper: authorized or not, and how far it got."""

    enabled: bool
    status: Literal["not_authorized", "waiting_maturity", "due", "collected", "stalled"] = Field(
        description="not_authorized: the debtor has not authorized collection; "
                    "waiting_maturity; due: matured and owed, no keeper attempt since; "
                    "collected: nothing is owed any more; stalled: the last keeper attempt "
                    "could not collect everything (see reason, shortfall)")
    reason: Literal["balance_short", "allowance_short", "reverted"] | None = Field(
        None, description="why a stalled collection stalled")
    detail: str | None = Field(None, description="the keeper's explanation, with amounts")
    last_attempt_at: int | None = Field(
        None, description="unix seconds of the keeper's last collection attempt, if any")
    shortfall: Uint = Field(0, description="what the last attempt could not pull")


class SettlementOut(BaseModel):
    slot: Uint
    status: str
    face_value: Uint
    repaid: Uint
    paid_out: Uint
    outstanding: Uint
    maturity: int
    collect_enabled: bool
    holdings: list[HoldingOut]
    collection: CollectionOut


class RedemptionOut(BaseModel):
    token_id: Uint
    holder: str
    amount: Uint


class RedeemedTokensOut(BaseModel):
    amount: Uint
    redemptions: list[RedemptionOut]
    skipped: list[Uint] = Field(description="tokens with nothing due now: before maturity and "
                                            "not fully repaid, in escrow, or already redeemed")
    tx: Tx


class RedeemedOut(BaseModel):
    slot: Uint
    amount: Uint
    redemptions: list[RedemptionOut]
    tx_hashes: list[str]


# -- evidence -----------------------------------------------------------------------------------------
class DocumentOut(BaseModel):
    doc_id: str
    owner: str
    doc_type: int
    number: str
    doc_key: str
    doc_hash: str
    leaf: str
    batch_root: str | None
    anchored_tx: str | None


class BatchOut(BaseModel):
    root: str
    doc_type: int
    count: int
    doc_ids: list[str]
    tx: Tx


class DiscloseIn(In):
    fields: list[str] = Field(min_length=1, max_length=32)


class VerificationOut(BaseModel):
    ok: bool
    reason: str
    anchored_at: int | None
    anchorer: str | None
    revoked: bool
    disclosed: dict[str, Any] | None


# -- balances and dev funding ----------------------------------------------------------------------
class TokenBalance(BaseModel):
    token: str = Field(description="the settlement token's address")
    balance: Uint = Field(description="smallest units (cents), a decimal string")
    allowance: Uint = Field(description="what the receivable contract may pull (approve)")


class BalancesOut(BaseModel):
    participant: str
    address: str
    spender: str = Field(description="the receivable contract: the allowances' spender")
    gas_wei: Uint = Field(description="the native currency that pays for gas, in wei")
    tokens: list[TokenBalance]


class DevFundIn(In):
    participant: str = Field(max_length=64)
    wei: UintIn = Field(default=0, description="gas to send, in wei")
    settlement: UintIn = Field(default=0, description="dev settlement token to mint (cents)")


class DevFundOut(BaseModel):
    participant: str
    address: str
    gas_wei: Uint
    tx_hashes: list[str]
