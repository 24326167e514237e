"""A reference model of the receivable economics, in plain Python, for the stateful tests.

It predicts every balance the contracts must show: token values and owners, each slot's
repaid and paid-out totals, each participant's settlement-token balance, what a
redemption pays (floor(v * (R - R0) / (F - R0)), docs/contracts.md), and every approval:
a value allowance or an ERC-721 approval lasts until its token changes owner, and is gone for
good then, even if the token comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MSlot:
    slot: int
    debtor: str
    creditor: str
    face: int
    maturity: int
    repaid: int = 0
    paid_out: int = 0
    collect_enabled: bool = False


@dataclass
class MToken:
    token_id: int
    slot: int
    owner: str
    value: int
    checkpoint: int = 0  # R at the last partial redemption


@dataclass
class MOffer:
    offer_id: int
    holder: str
    source: int
    escrow: int
    value: int
    financier: str | None
    price: int
    expiry: int
    open: bool = True


@dataclass
class Model:
    erc20: dict[str, int] = field(default_factory=dict)  # settlement-token balances by address
    slots: dict[int, MSlot] = field(default_factory=dict)
    tokens: dict[int, MToken] = field(default_factory=dict)
    offers: dict[int, MOffer] = field(default_factory=dict)
    contract: str = ""
    allowances: dict[tuple[int, str], int] = field(default_factory=dict)  # (token, operator)
    approved: dict[int, str] = field(default_factory=dict)  # ERC-721 approved address per token
    ever_approved: set[tuple[int, str]] = field(default_factory=set)  # pairs the chain is asked about

    # -- queries ---------------------------------------------------------------------------------
    def live_tokens(self, slot: int | None = None) -> list[MToken]:
        return [t for t in self.tokens.values() if slot is None or t.slot == slot]

    def slot_value(self, slot: int) -> int:
        return sum(t.value for t in self.live_tokens(slot))

    def due(self, token_id: int) -> int:
        t = self.tokens[token_id]
        s = self.slots[t.slot]
        if s.face == t.checkpoint:
            return 0
        return t.value * (s.repaid - t.checkpoint) // (s.face - t.checkpoint)

    def escrow_ids(self) -> set[int]:
        return {o.escrow for o in self.offers.values() if o.open}

    def allowance(self, token_id: int, operator: str) -> int:
        return self.allowances.get((token_id, operator), 0)

    def may_move_without_allowance(self, token_id: int, caller: str) -> bool:
        return caller in (self.tokens[token_id].owner, self.approved.get(token_id))

    # -- state changes (called after the chain accepted the operation) ---------------------------
    def approve_value(self, token_id: int, operator: str, value: int) -> None:
        self.allowances[(token_id, operator)] = value
        self.ever_approved.add((token_id, operator))

    def approve_token(self, token_id: int, operator: str) -> None:
        self.approved[token_id] = operator
        self.ever_approved.add((token_id, operator))

    def spend(self, token_id: int, caller: str, value: int) -> None:
        """The caller moved `value` of the token: its allowance pays unless it needs none."""
        if self.may_move_without_allowance(token_id, caller):
            return
        left = self.allowance(token_id, caller)
        assert left >= value, "model: allowance too small"
        if left != 2**256 - 1:
            self.allowances[(token_id, caller)] = left - value

    def clear_approvals(self, token_id: int) -> None:
        self.approved.pop(token_id, None)
        for key in [k for k in self.allowances if k[0] == token_id]:
            del self.allowances[key]

    def set_owner(self, token_id: int, owner: str) -> None:
        """Every change of owner (transfer, escrow, acceptance, return) voids the token's approvals."""
        self.tokens[token_id].owner = owner
        self.clear_approvals(token_id)

    def burn(self, token_id: int) -> MToken:
        self.clear_approvals(token_id)
        return self.tokens.pop(token_id)
    def move(self, from_id: int, to_id: int, to_owner: str, value: int) -> None:
        src = self.tokens[from_id]
        assert value <= src.value
        src.value -= value
        if to_id in self.tokens:
            self.tokens[to_id].value += value
        else:
            self.tokens[to_id] = MToken(to_id, src.slot, to_owner, value)

    def pay(self, payer: str, payee: str, amount: int) -> None:
        assert self.erc20.get(payer, 0) >= amount, "model: payer cannot afford"
        self.erc20[payer] = self.erc20.get(payer, 0) - amount
        self.erc20[payee] = self.erc20.get(payee, 0) + amount

    def redeem(self, token_id: int) -> int:
        t = self.tokens[token_id]
        s = self.slots[t.slot]
        paid = self.due(token_id)
        assert paid <= t.value
        if paid == 0:
            return 0
        self.pay(self.contract, t.owner, paid)
        s.paid_out += paid
        if paid == t.value:
            self.burn(token_id)
        else:
            t.value -= paid
            t.checkpoint = s.repaid
        return paid
