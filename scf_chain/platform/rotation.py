"""Rotating a participant's signing key: a new address takes over the old one's roles, tokens,
debts, settlement money, allowances and gas, and the old address loses its roles.

On chain a participant *is* its address, so a rotation is a sequence of transactions, not a file
swap. What the contracts bind to an address moves as follows:

- a debtor's receivables (pending applications, and active ones not fully repaid) move to the new
  key by the contract's debtor move, authorized by both keys: the old key names the new one
  (`offerDebtorMove`), the operator moves the slots (`moveDebts`, MOVE_CHUNK slots a call). The
  old key's credit limit is given to the new one first (the contract keeps the new debtor's
  outstanding total within its limit) and set to 0 at the end. Holders, values, maturity and
  collection authorizations are untouched; the allowances the old key gave the receivable
  contract are given again by the new key, so keepers still collect at maturity;
- the operator hands its role over in two steps (`transferOperator` by the old key,
  `acceptOperator` by the new); the role bit moves with it, the evidence registry asks the
  token for its operator, and every process sharing the keystore signs with the new key as soon
  as the chain names it (`Platform.operator_account`). On a dev chain the old operator key may
  own the dev settlement token (it deployed it): it keeps gas to mint.

Things still bound to the old address for good, and refused before anything changes:

- the creditor of an application still pending (only it may withdraw it);
- a party to an open financing offer (the escrowed token returns to, or the price is paid to,
  the address that made it);
- a holder of tokens of a matured receivable (matured tokens cannot move; redemption pays their
  holder).

Evidence roots the old address anchored stay valid; revoking them is then the operator's (the
registry lets the anchorer or the operator revoke).

A rotation interrupted part-way (a crash, the node gone) is resumed by calling it again: the
participant row keeps the old address until the end, and the keystore's retired key finishes
the moves. Every step reads the chain first and is skipped when done: what has moved is not
moved again.
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
from scf_chain.clients.results import Receivable as ChainReceivable
from scf_chain.contracts.encoding import ReceivableState
from scf_chain.db.models import GatewayParticipant, Offer, Receivable, Token
from scf_chain.errors import Conflict, ParticipantError
from scf_chain.platform.core import DEV_GAS_WEI, OPERATOR, Platform

log = logging.getLogger(__name__)

ETH_TRANSFER_GAS = 21_000
MOVE_CHUNK = 20  # receivables per moveDebts transaction (~14,100 gas each, reports/bench_gas.md)
# stored status Active, by the time-derived state: a debt may be left on any of them
_OPEN = (ReceivableState.ACTIVE, ReceivableState.MATURED, ReceivableState.OVERDUE)


@dataclass
class KeyRotation:
    """What a rotation did (or, resumed, what was left to do)."""

    participant: str
    old_address: str
    new_address: str
    resumed: bool
    tokens_moved: list[int] = field(default_factory=list)
    debts_moved: list[int] = field(default_factory=list)  # slots now naming the new key as debtor
    money_moved: dict[str, int] = field(default_factory=dict)  # settlement token -> amount
    allowances_given: dict[str, int] = field(default_factory=dict)  # token -> new allowance
    gas_moved_wei: int = 0
    tx_hashes: list[str] = field(default_factory=list)


def blockers(platform: Platform, address: str) -> list[str]:
    """Why `address` cannot hand over to a new key now (empty: it can)."""
    addr = address.lower()
    now = platform.chain.now()
    out: list[str] = []
    with platform.sessions() as s:
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
    """Give participant `name` (or the operator) a new signing key and move what its old
    address holds and owes to the new address; resumes an interrupted rotation."""
    p = platform.participant(name)
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
        if name == OPERATOR:
            _hand_over_operator(platform, old, new, result)
        else:
            _hand_over(platform, p, old, new, result)
        with platform.sessions() as s:
            row = s.get(GatewayParticipant, name)
            assert row is not None
            row.address = new.address.lower()  # the store keeps addresses lowercase
            s.commit()
        platform.authenticator.forget()
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
    op = platform.token(platform.operator_account)
    roles = Role(p.roles)
    _gas_for(platform, new)
    if op.roles_of(new.address) != roles:
        result.tx_hashes.append(op.set_roles(new.address, roles).tx_hash)
    _move_tokens(platform, old, new, result)
    # the old address loses its roles before its debts move: no application can name it as
    # debtor afterwards (the contract asks for the role), so none is left behind
    if op.roles_of(old.address) != Role.NONE:
        result.tx_hashes.append(op.set_roles(old.address, Role.NONE).tx_hash)
    _move_debts(platform, old, new, result)
    _move_money(platform, old, new, result)
    _move_allowances(platform, old, new, result)
    _move_gas(platform, old, new, result)


def _hand_over_operator(platform: Platform, old: LocalAccount, new: LocalAccount,
                        result: KeyRotation) -> None:
    """The operator's two-step hand-over, then what else its old address held."""
    _gas_for(platform, new)
    as_old = platform.token(old)
    as_new = platform.token(new)
    if as_old.operator() != checksum(new.address):
        if as_old.pending_operator() != checksum(new.address):
            result.tx_hashes.append(as_old.transfer_operator(new.address).tx_hash)
        result.tx_hashes.append(as_new.accept_operator().tx_hash)
    # acceptOperator moved the OPERATOR bit; any other role the old key had moves too
    others = as_new.roles_of(old.address)
    if others != Role.NONE:
        result.tx_hashes.append(as_new.set_roles(new.address, others | Role.OPERATOR).tx_hash)
        result.tx_hashes.append(as_new.set_roles(old.address, Role.NONE).tx_hash)
    with platform.sessions() as s:
        row = s.get(GatewayParticipant, OPERATOR)
        assert row is not None
        row.roles = int(as_new.roles_of(new.address))
        s.commit()
    _move_tokens(platform, old, new, result)
    _move_money(platform, old, new, result)
    _move_allowances(platform, old, new, result)
    # on a dev chain the old key may own the dev settlement token (`mint` is the deployer's):
    # it keeps its gas for that (Platform.dev_token_minter signs with it)
    deployer = checksum(platform.manifest.deployer) == checksum(old.address)
    if not (deployer and platform.manifest.dev_settlement_token):
        _move_gas(platform, old, new, result)
    # this process signs as the new operator now (others follow on their next operator call)
    assert platform.operator_account.address == new.address


def _gas_for(platform: Platform, new: LocalAccount) -> None:
    """Gas for the old key's last transactions and the new key's first ones (dev chains)."""
    w3 = platform.chain.w3
    if platform.is_dev_chain and int(w3.eth.get_balance(new.address, _read_block())) == 0:
        platform.system.sender(platform.chain.dev_accounts()[0]).send(new.address, b"",
                                                                      DEV_GAS_WEI)


def _move_tokens(platform: Platform, old: LocalAccount, new: LocalAccount,
                 result: KeyRotation) -> None:
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


def _move_debts(platform: Platform, old: LocalAccount, new: LocalAccount,
                result: KeyRotation) -> None:
    """The receivables naming `old` as debtor, to `new`: the old key's offer, the operator's
    moves in chunks; the credit limit first, so the new key's outstanding stays within it."""
    op = platform.token(platform.operator_account)
    as_old = platform.token(old)
    with platform.sessions() as s:
        # pending or active and not fully repaid in the store (a replay reads the store as it
        # was: slots already moved to the new key are listed too, and skipped below)
        listed = s.scalars(select(Receivable.slot).where(
            Receivable.debtor.in_((old.address.lower(), new.address.lower())),
            Receivable.status.in_(("pending", "active")),
            Receivable.repaid < Receivable.face_value).order_by(Receivable.slot)).all()
    owed = [slot for slot in listed if _owes(op.get_receivable(int(slot)), old.address)]
    if not owed:
        return
    limit = op.credit_limit_of(old.address)
    if op.credit_limit_of(new.address) < limit:
        result.tx_hashes.append(op.set_credit_limit(new.address, limit).tx_hash)
    if as_old.debtor_successor_of(old.address) != checksum(new.address):
        result.tx_hashes.append(as_old.offer_debtor_move(new.address).tx_hash)
    for i in range(0, len(owed), MOVE_CHUNK):
        chunk = [int(slot) for slot in owed[i:i + MOVE_CHUNK]]
        result.tx_hashes.append(op.move_debts(old.address, chunk).tx_hash)
        result.debts_moved.extend(chunk)
    left = op.outstanding_of(old.address)
    if left:  # a receivable the store did not list (it cannot be: the store is synced first)
        raise Conflict("rotation_inconsistent", f"{old.address} still owes {left} after its "
                       "listed receivables moved; retry the rotation once the store caught up")
    if op.credit_limit_of(old.address):
        result.tx_hashes.append(op.set_credit_limit(old.address, 0).tx_hash)


def _owes(rec: ChainReceivable, address: str) -> bool:
    """Whether the receivable still names `address` as debtor and has a debt to move."""
    if checksum(rec.debtor) != checksum(address):
        return False
    if rec.status == ReceivableState.PENDING:
        return True
    return rec.status in _OPEN and rec.repaid < rec.face_value


def _move_money(platform: Platform, old: LocalAccount, new: LocalAccount,
                result: KeyRotation) -> None:
    for address in platform.manifest.settlement_tokens:  # the dev token is among them
        money = platform.money(old, address)
        balance = money.balance_of(old.address)
        if balance:
            result.tx_hashes.append(money.transfer(new.address, balance).tx_hash)
            result.money_moved[checksum(address)] = balance


def _move_allowances(platform: Platform, old: LocalAccount, new: LocalAccount,
                     result: KeyRotation) -> None:
    """What the old key let the receivable contract pull (collection at maturity, a financier's
    payments), given again by the new key; the old allowance is then withdrawn."""
    spender = platform.manifest.receivable_token
    for address in platform.manifest.settlement_tokens:
        as_old = platform.money(old, address)
        allowed = as_old.allowance(old.address, spender)
        if not allowed:
            continue
        as_new = platform.money(new, address)
        if as_new.allowance(new.address, spender) != allowed:
            result.tx_hashes.append(as_new.approve(spender, allowed).tx_hash)
            result.allowances_given[checksum(address)] = allowed
        result.tx_hashes.append(as_old.approve(spender, 0).tx_hash)


def _move_gas(platform: Platform, old: LocalAccount, new: LocalAccount,
              result: KeyRotation) -> None:
    """The old key's remaining ether, less the fee of sending it."""
    w3 = platform.chain.w3
    sender = platform.system.sender(old)
    balance = int(w3.eth.get_balance(old.address, _read_block()))
    value = balance - sender.max_fee_per_gas() * ETH_TRANSFER_GAS
    if value > 0:
        rcpt = sender.send(new.address, b"", value, gas=ETH_TRANSFER_GAS)
        result.gas_moved_wei = value
        result.tx_hashes.append(rcpt.tx_hash)
