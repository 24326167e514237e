"""How ReceivableToken encodes what the Python side decodes: one definition of each.

- Token ids: a token id is `(slot << SLOT_SHIFT) | serial`; `slot_of(token_id)` is its slot.
- Batches: `splitMany` takes at most `MAX_BATCH_RECIPIENTS` recipients.
- Status codes: `ReceivableState` (`statusOf`: the stored status 0-4 plus the time-derived
  Matured, Overdue and Settled) and `OfferStatus`, with the lower-case names the database,
  the API and the audit use (`receivable_status_name`, `STORED_RECEIVABLE_STATUSES`, ...).
"""

from __future__ import annotations

from enum import IntEnum

SLOT_SHIFT = 64
SERIAL_MASK = (1 << SLOT_SHIFT) - 1
# The most recipients one `splitMany` takes (the contract's MAX_BATCH_RECIPIENTS).
MAX_BATCH_RECIPIENTS = 100


def slot_of(token_id: int) -> int:
    """The slot (receivable) a token id belongs to."""
    return token_id >> SLOT_SHIFT


def token_id_of(slot: int, serial: int) -> int:
    """The token id of the `serial`-th token of `slot`."""
    return (slot << SLOT_SHIFT) | (serial & SERIAL_MASK)


class ReceivableState(IntEnum):
    """`statusOf`: stored status, plus the time-derived Matured, Overdue and Settled."""

    NONE = 0
    PENDING = 1
    ACTIVE = 2
    REJECTED = 3
    WITHDRAWN = 4
    MATURED = 5
    OVERDUE = 6
    SETTLED = 7


class OfferStatus(IntEnum):
    NONE = 0
    OPEN = 1
    ACCEPTED = 2
    CANCELLED = 3


# The statuses the contract stores (getReceivable's `status`), by code, as the database names them.
STORED_RECEIVABLE_STATUS: dict[int, str] = {
    s.value: s.name.lower() for s in ReceivableState if s <= ReceivableState.WITHDRAWN
}
# The statuses `statusOf` derives from a stored Active one and the time (operations.derived_status).
DERIVED_RECEIVABLE_STATUSES: tuple[str, ...] = tuple(
    s.name.lower() for s in (ReceivableState.ACTIVE, ReceivableState.MATURED,
                             ReceivableState.OVERDUE, ReceivableState.SETTLED)
)
OFFER_STATUS: dict[int, str] = {s.value: s.name.lower() for s in OfferStatus}


def derive_status(stored: str, face_value: int, repaid: int, paid_out: int, maturity: int,
                  now: int) -> str:
    """A receivable's status as the contract's `statusOf` gives it at chain time `now`: an active
    receivable is settled once fully paid out, else active before maturity, and at or after
    maturity matured if fully repaid or overdue if not; any other stored status stands."""
    if stored != "active":
        return stored
    if paid_out == face_value:
        return "settled"
    if now < maturity:
        return "active"
    return "matured" if repaid == face_value else "overdue"
