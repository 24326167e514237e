"""Rotating a participant's signing key: a new address takes over the old one's roles, tokens,
settlement money and gas, and the old address loses its roles.

On chain a participant *is* its address, so a rotation is a sequence of transactions, not a file
swap. Things the contracts bind to an address for good cannot move, and a rotation that would
strand them is refused before anything changes:

- a debtor of a receivable that is not fully repaid (only the debtor confirms, authorizes
  collection and is pulled from);
- the creditor of an application still pending (only it may withdraw it);
- a party to an open financing offer (the escrowed token returns to, or the price is paid to,
  the address that made it);
- a holder of tokens of a matured receivable (matured tokens cannot move; redemption pays their
  holder).

Evidence roots the old address anchored stay valid; revoking them is then the operator's (the
registry lets the anchorer or the operator revoke).

A rotation interrupted part-way (a crash, the node gone) is resumed by calling it again: the
participant row keeps the old address until the end, and the keystore's retired key finishes
the moves. Every step is idempotent: what has moved is not moved again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from web3.types import BlockIdentifier

from scf_chain.chain.codec import checksum
from scf_chain.chain.sender import current_journal
from scf_chain.clients import Role
from scf_chain.db.models import GatewayParticipant, Offer, Receivable, Token
from scf_chain.errors import Conflict, ParticipantError
from scf_chain.platform.core import DEV_GAS_WEI, OPERATOR, Platform

log = logging.getLogger(__name__)

ETH_TRANSFER_GAS = 21_000


@dataclass
class KeyRotation:
    """What a rotation did (or, resumed, what was left to do)."""

    participant: str
    old_address: str
    new_address: str
    resumed: bool
    tokens_moved: list[int] = field(default_factory=list)
    money_moved: dict[str, int] = field(default_factory=dict)  # settlement token -> amount
    gas_moved_wei: int = 0
    tx_hashes: list[str] = field(default_factory=list)


def blockers(platform: Platform, address: str) -> list[str]:
    """Why `address` cannot hand over to a new key now (empty: it can)."""
    addr = address.lower()
    now = platform.chain.now()
    out: list[str] = []
    with platform.sessions() as s:
        owing = s.scalars(select(Receivable.slot).where(
            Receivable.debtor == addr, Receivable.status.in_(("pending", "active")),
            Receivable.repaid < Receivable.face_value)).all()
        if owing:
            out.append(f"debtor of receivables not fully repaid (slots {_ids(owing)}): the "
                       "contract binds a debtor to its address")
        pending = s.scalars(select(Receivable.slot).where(
            Receivable.creditor == addr, Receivable.status == "pending")).all()
        if pending:
            out.append(f"creditor of pending applications (slots {_ids(pending)}): withdraw "
                       "them or have them confirmed first")
        offers = s.scalars(select(Offer.offer_id).where(
            Offer.status == "open", (Offer.holder == addr) | (Offer.financier == addr))).all()
        if offers:
            out.append(f"party to open financing offers ({_ids(offers)}): cancel or accept them "
                       "first")
        matured = s.scalars(select(Token.token_id).join(Receivable, Receivable.slot == Token.slot)
                            .where(Token.owner == addr, Token.burned.is_(False),
                                   Token.value > 0, Receivable.maturity <= now)).all()
        if matured:
            out.append(f"holds tokens of matured receivables ({_ids(matured)}): they are "
                       "redeemed to this address, not moved")
    return out


def _ids(values: Sequence[int]) -> str:
    items = [str(v) for v in values]
    return ", ".join(items[:10]) + (f" and {len(items) - 10} more" if len(items) > 10 else "")


def rotate(platform: Platform, name: str) -> KeyRotation:
    """Give participant `name` a new signing key and move its roles, tokens, settlement money
    and gas to the new address; resumes an interrupted rotation."""
    p = platform.participant(name)
    if name == OPERATOR:
        raise ParticipantError("operator_role", "the operator's key is rotated by redeploying "
                               "or transferring the operator role, not here")
    if p.custody == "external":
        raise ParticipantError("external_custody", f"{name} holds its own key: it moves "
                               "to a new key itself; the gateway cannot sign for it")
    with platform.rotation_lock:  # two rotations at once would each make a new key
        return _rotate(platform, p)


def _rotate(platform: Platform, p: GatewayParticipant) -> KeyRotation:
    name = p.name
    key_name = p.key_name
    recorded = checksum(p.address)
    with ExitStack() as held:
        # the account's lock for the whole rotation (and the new address's once it exists): a
        # payment of this participant (repay, accept, collection) runs before or after it, never
        # between a balance read here and the move of that balance
        held.enter_context(platform.account_locks.hold(recorded))
        platform.sync()
        current = checksum(platform.keys.address_of(key_name))
        resumed = current != recorded
        if not resumed:
            found = blockers(platform, recorded)
            if found:
                raise Conflict("rotation_blocked", f"{name}'s key cannot be rotated now: "
                               + "; ".join(found))
            _, new_address = platform.keys.rotate(key_name)
            log.info("rotating %s: %s -> %s", name, recorded, new_address)
        old = _retired_account(platform, key_name, recorded)
        new = platform.keys.account(key_name)
        held.enter_context(platform.account_locks.hold(new.address))
        result = KeyRotation(name, recorded.lower(), new.address.lower(), resumed)
        _hand_over(platform, p, old, new, result)
        with platform.sessions() as s:
            row = s.get(GatewayParticipant, name)
            assert row is not None
            row.address = new.address.lower()  # the store keeps addresses lowercase
            s.commit()
    platform.sync()
    return result


def _retired_account(platform: Platform, key_name: str, address: str) -> LocalAccount:
    for acct in platform.keys.retired(key_name):
        if checksum(acct.address) == address:
            return acct
    raise Conflict("rotation_inconsistent",
                   f"the keystore holds no key for {key_name}'s recorded address {address}")


def _read_block() -> BlockIdentifier:
    """The block balances are read at: a replayed request reads what its first attempt read."""
    journal = current_journal()
    block = journal.read_block() if journal is not None else "latest"
    return block if isinstance(block, int) else "latest"


def _hand_over(platform: Platform, p: GatewayParticipant, old: LocalAccount, new: LocalAccount,
               result: KeyRotation) -> None:
    w3 = platform.chain.w3
    op = platform.token(platform.operator_account)
    roles = Role(p.roles)
    # gas for the old key's last transactions and the new key's first ones
    if platform.is_dev_chain and int(w3.eth.get_balance(new.address, _read_block())) == 0:
        platform.system.sender(platform.chain.dev_accounts()[0]).send(new.address, b"",
                                                                      DEV_GAS_WEI)
    if op.roles_of(new.address) != roles:
        result.tx_hashes.append(op.set_roles(new.address, roles).tx_hash)
    as_old = platform.token(old)
    with platform.sessions() as s:
        # tokens with value (an emptied token is worth nothing and may be past maturity); those
        # the store shows at the new address too: a replayed request reads owners as they were
        held = s.scalars(select(Token.token_id).where(Token.owner.in_((old.address.lower(),
                                                                        new.address.lower())),
                                                      Token.burned.is_(False),
                                                      Token.value > 0)
                          .order_by(Token.token_id)).all()
    for token_id in held:
        if checksum(as_old.owner_of(int(token_id))) != checksum(old.address):
            continue  # moved by an interrupted earlier run (the store had not caught up)
        moved = as_old.transfer(int(token_id), new.address)
        result.tokens_moved.append(int(token_id))
        result.tx_hashes.append(moved.tx.tx_hash)
    for address in platform.manifest.settlement_tokens:  # the dev token is among them
        money = platform.money(old, address)
        balance = money.balance_of(old.address)
        if balance:
            result.tx_hashes.append(money.transfer(new.address, balance).tx_hash)
            result.money_moved[checksum(address)] = balance
    if op.roles_of(old.address) != Role.NONE:
        result.tx_hashes.append(op.set_roles(old.address, Role.NONE).tx_hash)
    # the old key's remaining ether, less the fee of sending it
    sender = platform.system.sender(old)
    balance = int(w3.eth.get_balance(old.address, _read_block()))
    value = balance - sender.max_fee_per_gas() * ETH_TRANSFER_GAS
    if value > 0:
        rcpt = sender.send(new.address, b"", value, gas=ETH_TRANSFER_GAS)
        result.gas_moved_wei = value
        result.tx_hashes.append(rcpt.tx_hash)
