"""The keeper: finds matured receivables, collects authorized repayments, redeems holders in batches.

Work is derived from chain state every pass (what is repaid and each token's checkpoint), so a
keeper killed mid-batch simply finds the rest still due on its next run, and the contract's
checkpoints make a second payment impossible. Keepers running at once divide slots with leases
in the store so they do not spend gas on each other's work. Every action is recorded in
`keeper_actions` with its transaction hash.

A matured, authorized receivable the keeper cannot collect in full (the debtor's balance or
allowance is short, or `collect` reverts) is a `collect_stalled` action: its detail starts with
a reason code (`balance_short`, `allowance_short`, `reverted`) and its amount is the shortfall.
While the reason stays the same, later passes refresh that row's time (the last attempt) instead
of adding a row every pass; the warning is logged when a stall starts or its reason changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.clients import Receivable as ChainReceivable
from scf_chain.clients import ReceivableState, ReceivableTokenClient, SettlementTokenClient
from scf_chain.db.models import KeeperAction, KeeperLease, Receivable, Token
from scf_chain.errors import ChainError, ContractRevert, DeploymentError, ReorgTooDeep

log = logging.getLogger("scf_chain.keeper")
GAS_PER_TOKEN = 60_000  # generous: measured ~20k per token in a batch, plus a first write
GAS_BASE = 80_000
COLLECTION_ACTIONS = ("collect", "collect_stalled")


def due_of(value: int, repaid: int, checkpoint: int, face: int) -> int:
    """What redeeming a token pays now: floor(value × (repaid − checkpoint) / (face − checkpoint))."""
    if value == 0 or repaid <= checkpoint or face <= checkpoint:
        return 0
    return value * (repaid - checkpoint) // (face - checkpoint)


@dataclass
class KeeperReport:
    collected: dict[int, int] = field(default_factory=dict)
    redeemed: dict[int, int] = field(default_factory=dict)
    tx_hashes: list[str] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    stalled: dict[int, str] = field(default_factory=dict)  # slot -> why it could not be collected

    @property
    def idle(self) -> bool:
        return not (self.collected or self.redeemed)


class Keeper:
    """One keeper identity (`keeper_id`) signing with `client`'s account."""

    def __init__(self, client: ReceivableTokenClient, sessions: sessionmaker[Session],
                 keeper_id: str, batch_size: int = 50, lease_s: float = 120.0,
                 clock: Callable[[], float] = time.time,
                 before_index: Callable[[], object] | None = None) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.client, self.sessions = client, sessions
        self.keeper_id, self.batch_size, self.lease_s = keeper_id, batch_size, lease_s
        self.clock = clock
        self.before_index = before_index
        self.after_batch: Callable[[int, list[int]], None] | None = None  # test hook
        # counters over this keeper's life (the per-pass figures are in each KeeperReport)
        self.collections_stalled_total = 0

    # -- leases ----------------------------------------------------------------------------------------
    def _take_lease(self, slot: int) -> bool:
        now = self.clock()
        with self.sessions() as s:
            res = s.execute(update(KeeperLease)
                            .where(KeeperLease.slot == slot,
                                   (KeeperLease.expires_at < now)
                                   | (KeeperLease.holder == self.keeper_id))
                            .values(holder=self.keeper_id, expires_at=now + self.lease_s))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                s.commit()
                return True
            try:
                s.execute(insert(KeeperLease).values(slot=slot, holder=self.keeper_id,
                                                     expires_at=now + self.lease_s))
                s.commit()
                return True
            except IntegrityError:  # another keeper holds it
                s.rollback()
                return False

    def _release(self, slot: int) -> None:
        with self.sessions() as s:
            s.execute(delete(KeeperLease).where(KeeperLease.slot == slot,
                                                KeeperLease.holder == self.keeper_id))
            s.commit()

    def _record(self, action: str, slot: int | None, tokens: list[int], amount: int,
                tx_hash: str | None, detail: str | None = None) -> None:
        with self.sessions() as s:
            s.add(KeeperAction(at=int(self.clock()), keeper=self.client.account, action=action,
                               slot=slot, token_ids=[str(t) for t in tokens], amount=amount,
                               tx_hash=tx_hash, detail=detail[:500] if detail else None))
            s.commit()
        log.info("keeper %s: %s slot=%s amount=%s tx=%s %s", self.keeper_id, action, slot, amount,
                 tx_hash, detail or "")

    # -- work ------------------------------------------------------------------------------------------
    def matured_slots(self, now: int) -> list[int]:
        with self.sessions() as s:
            return [int(x) for x in s.scalars(
                select(Receivable.slot).where(Receivable.status == "active",
                                              Receivable.maturity <= now,
                                              Receivable.paid_out < Receivable.face_value)
                .order_by(Receivable.maturity, Receivable.slot))]

    def _tokens(self, slot: int) -> list[int]:
        with self.sessions() as s:
            return [int(t) for t in s.scalars(
                select(Token.token_id).where(Token.slot == slot, Token.burned.is_(False),
                                             Token.value > 0).order_by(Token.token_id))]

    def run_once(self) -> KeeperReport:
        """One pass over every matured receivable."""
        if self.before_index is not None:
            try:
                self.before_index()
            except (ReorgTooDeep, DeploymentError):  # not the chain the store follows: stop
                raise
            except Exception as exc:  # e.g. another keeper's indexer wrote the same batch first
                log.warning("keeper %s: indexing failed (%s); working from the store as it is",
                            self.keeper_id, exc)
        report = KeeperReport()
        now = self.client.sender.chain.now()
        for slot in self.matured_slots(now):
            if not self._take_lease(slot):
                report.skipped[slot] = "leased by another keeper"
                continue
            try:
                self._settle(slot, report)
            except (ContractRevert, ChainError) as exc:
                report.skipped[slot] = str(exc)
                self._record("error", slot, [], 0, getattr(exc, "tx_hash", None), str(exc))
            finally:
                self._release(slot)
        return report

    def _settle(self, slot: int, report: KeeperReport) -> None:
        c = self.client
        rec = c.get_receivable(slot)
        if rec.status not in (ReceivableState.OVERDUE, ReceivableState.MATURED):
            report.skipped[slot] = f"status {rec.status.name.lower()}"
            return
        if rec.collect_enabled and rec.repaid < rec.face_value:
            try:
                got = c.collect(slot)
            except ContractRevert as exc:  # nothing could be pulled: pay out what there is
                self._stalled(rec, report, exc)
            else:
                report.collected[slot] = got.amount
                report.tx_hashes.append(got.tx.tx_hash)
                self._record("collect", slot, [], got.amount, got.tx.tx_hash)
                rec = c.get_receivable(slot)
                if rec.repaid < rec.face_value:  # pulled what the balance or allowance allowed
                    self._stalled(rec, report, None)
        if rec.repaid <= rec.paid_out:
            return
        due = [t for t in self._tokens(slot)
               if due_of(c.value_of(t), rec.repaid, c.checkpoint_of(t), rec.face_value) > 0]
        for i in range(0, len(due), self.batch_size):
            batch = due[i:i + self.batch_size]
            res = c.redeem_batch(batch, gas=GAS_BASE + GAS_PER_TOKEN * len(batch))
            report.redeemed[slot] = report.redeemed.get(slot, 0) + res.amount
            report.tx_hashes.append(res.tx.tx_hash)
            self._record("redeem_batch", slot, batch, res.amount, res.tx.tx_hash)
            if self.after_batch is not None:
                self.after_batch(slot, batch)

    # -- collections that cannot complete ----------------------------------------------------------------
    def _stalled(self, rec: ChainReceivable, report: KeeperReport,
                 error: ContractRevert | None) -> None:
        code, shortfall, why = self.stall_reason(rec, error)
        detail = f"{code}: {why}"
        report.stalled[rec.slot] = detail
        self.collections_stalled_total += 1
        now = int(self.clock())
        with self.sessions() as s:
            last = s.scalars(select(KeeperAction)
                             .where(KeeperAction.slot == rec.slot,
                                    KeeperAction.action.in_(COLLECTION_ACTIONS))
                             .order_by(KeeperAction.id.desc()).limit(1)).first()
            repeated = (last is not None and last.action == "collect_stalled"
                        and last.detail == detail[:500] and last.amount == shortfall)
            if repeated:
                assert last is not None
                last.at, last.keeper = now, self.client.account
                s.commit()
        if repeated:
            log.info("keeper %s: collection of slot %s still stalled: %s", self.keeper_id,
                     rec.slot, detail)
            return
        self._record("collect_stalled", rec.slot, [], shortfall, None, detail)
        log.warning("keeper %s: cannot collect receivable %s (debtor %s, %s outstanding): %s",
                    self.keeper_id, rec.slot, rec.debtor, rec.outstanding, detail)

    def stall_reason(self, rec: ChainReceivable,
                     error: ContractRevert | None) -> tuple[str, int, str]:
        """(reason code, shortfall, explanation) for a collection that could not complete, from
        the debtor's ERC-20 balance and allowance to the contract as they are now."""
        owed = rec.outstanding
        money = SettlementTokenClient(self.client.sender, rec.settlement_token)
        try:
            allowance = money.allowance(rec.debtor, self.client.address)
            balance = money.balance_of(rec.debtor)
        except (ContractRevert, ChainError) as exc:
            return "reverted", owed, f"{error or 'collect did not complete'}; the debtor's " \
                                     f"balance and allowance could not be read ({exc})"
        shortfall = owed - min(owed, allowance, balance)
        if shortfall and allowance <= balance:
            return ("allowance_short", shortfall,
                    f"the debtor's allowance to the contract ({allowance}) is short of the "
                    f"{owed} outstanding by {shortfall} (balance {balance})")
        if shortfall:
            return ("balance_short", shortfall,
                    f"the debtor's balance ({balance}) is short of the {owed} outstanding by "
                    f"{shortfall} (allowance {allowance})")
        return "reverted", owed, f"collect reverted: {error}" if error else \
            "collect pulled less than outstanding"
