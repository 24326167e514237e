"""Who sees what of a receivable: the visibility matrix (docs/visibility.md), applied to what the core returns.

Three views, decided per receivable:

- FULL: the operator and auditors. Everything, exactly as the store has it.
- DEBTOR: the receivable's debtor. Every holding and every payout (it owes each holder its
  share, and an assignment is notified to the debtor), but no financing terms: what a holder
  was paid for its part, the implied rate and the registration reference are the seller's and
  the financier's business, and the debtor's debt is the same whatever they were.
- PARTY: the original creditor, a holder of a part (by split, transfer or financing), a
  financier holding what it bought. Its own tokens, the ids of the tokens they derive from back
  to the confirmed one (whose holders and values are withheld), its own payouts, the financings
  it is a party to (as seller or financier), the repayments (the pot every holder shares) and
  the evidence's on-chain status.

Anyone else is not told the receivable exists (the routes answer "not found"). Documents keep their own
rule: their parties and auditors read them (scf_chain.platform.evidence).

This decides what the gateway answers; it is not secrecy from whoever reads the chain's events
(on a permissioned chain, node access is the platform's to restrict).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from scf_chain.audit.trace import Financing, Payment, ReceivableTrace, TokenNode


class View(enum.Enum):
    FULL = "full"
    DEBTOR = "debtor"
    PARTY = "party"


@dataclass(frozen=True)
class Viewer:
    """Who asks: an address, and whether it reads everything (auditor or operator role)."""

    address: str
    reads_everything: bool = False

    @property
    def key(self) -> str:
        return self.address.lower()


def view_of(viewer: Viewer, debtor: str) -> View:
    """The view `viewer` has of a receivable owed by `debtor` (party or not is decided apart)."""
    if viewer.reads_everything:
        return View.FULL
    if viewer.key == debtor.lower():
        return View.DEBTOR
    return View.PARTY


def sees_holding(viewer: Viewer, debtor: str, holder: str) -> bool:
    """Whether `viewer` may see what `holder` holds of (and is paid from) the receivable."""
    return view_of(viewer, debtor) is not View.PARTY or holder.lower() == viewer.key


def sees_financing(viewer: Viewer, seller: str, financier: str) -> bool:
    """Whether `viewer` may see a financing's terms: auditors, the operator, its two parties."""
    return viewer.reads_everything or viewer.key in (seller.lower(), financier.lower())


T = TypeVar("T")


def holdings_seen(viewer: Viewer, debtor: str, items: Iterable[T], owner: str = "owner"
                  ) -> list[T]:
    """The items (holdings, payouts) whose holder, the attribute `owner`, the viewer may see."""
    return [i for i in items if sees_holding(viewer, debtor, str(getattr(i, owner)))]


def trace_seen(trace: ReceivableTrace, viewer: Viewer) -> ReceivableTrace:
    """The trace as `viewer` may see it (the same object for FULL: auditors' trace is unchanged).

    `token_count` then counts the tokens in the returned lineage.
    """
    view = view_of(viewer, trace.debtor)
    if view is View.FULL:
        return trace
    financings: list[Financing] = [f for f in trace.financings
                                   if sees_financing(viewer, f.seller, f.financier)]
    if view is View.DEBTOR:
        return replace(trace, financings=financings)
    me = viewer.key
    lineage = _own_branch(trace.lineage, me) if trace.lineage is not None else None
    count = sum(1 for _ in lineage.walk()) if lineage is not None else 0
    redemptions: list[Payment] = [p for p in trace.redemptions if p.payee.lower() == me]
    holders = {k: v for k, v in trace.current_holders.items() if k.lower() == me}
    return replace(trace, lineage=lineage, token_count=count, current_holders=holders,
                   financings=financings, redemptions=redemptions)


def _own_branch(root: TokenNode, me: str) -> TokenNode:
    """The viewer's tokens in full and the tokens they derive from, withheld; the root always
    (withheld unless the viewer holds it), so every view starts at the confirmed token."""
    parent_of: dict[int, TokenNode | None] = {root.token_id: None}
    keep: set[int] = {root.token_id}
    for node in root.walk():
        for child in node.children:
            parent_of[child.token_id] = node
        if node.holder.lower() == me:
            up: TokenNode | None = node
            while up is not None and up.token_id not in keep:
                keep.add(up.token_id)
                up = parent_of[up.token_id]
    return _copy(root, keep, me)


def _copy(root: TokenNode, keep: set[int], me: str) -> TokenNode:
    def shallow(n: TokenNode) -> TokenNode:
        return replace(n, children=[], withheld=n.holder.lower() != me)

    top = shallow(root)
    stack = [(root, top)]
    while stack:  # no recursion: trees can be deep
        src, dst = stack.pop()
        for child in src.children:
            if child.token_id in keep:
                c = shallow(child)
                dst.children.append(c)
                stack.append((child, c))
    return top
