"""Idempotency-Key handling: a retried POST gets the first response, never a second effect.

A request's key is claimed in `idempotency_records` before its effect runs. Every transaction
the effect signs is written to `tx_journal` (sender, nonce, hash, signed bytes) *before* it is
broadcast (`scf_chain.chain.sender.journaling`). From then on the key is never released: an
error after that, or a crash, leaves the record unfinished, and the client is told the outcome
is pending (retry with the same key), never that the request failed.

An unfinished record is resolved from the chain, when a retry arrives and when the gateway
starts: each journaled transaction is mined, still possible (its nonce is unused: it is
broadcast again) or impossible (its nonce went to another transaction: it never happened).
A retry then runs the effect again in replay mode: each send the effect makes is matched, in
order, with the journaled transactions that happened or may happen; a match waits for the
journaled transaction's receipt instead of signing anew, so the effect builds its normal answer
from its own receipts. Views read during a replay see the chain as the journaled transaction
did (the block before it). A send that does not match what was journaled, or an effect that
stops before retracing what was mined, fails the record as `outcome_diverged` (with what was
mined) and nothing is sent. When nothing journaled happened or can happen, the effect simply
runs (the request had no effect).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.chain.base import ChainBackend, raw_request
from scf_chain.chain.sender import SignedTx, broadcast_signed
from scf_chain.db.leases import ProcessLease
from scf_chain.db.models import IdempotencyRecord, TxJournalEntry
from scf_chain.errors import (
    IdempotencyConflict,
    IdempotencyKeyInvalid,
    OutcomeDiverged,
    OutcomePending,
)

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255
DEFAULT_TTL_S = 86_400.0
# expired records are purged by the first request after this many seconds
PURGE_INTERVAL_S = 600.0
# a client told `outcome_pending` retries after this many seconds
RETRY_AFTER_S = 2

PENDING, INTERRUPTED, DONE, UNKNOWN = "pending", "interrupted", "done", "unknown"
UNFINISHED = (PENDING, INTERRUPTED)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


@dataclass(frozen=True)
class Claim:
    """A run's hold on (participant, key): `token` is written as the record's owner."""

    participant: str
    key: str
    token: str
    resumed: bool  # an unfinished record taken over (its journal is resolved first)


@dataclass
class JournaledTx:
    seq: int
    sender: str
    nonce: int
    tx_hash: str
    call_hash: str
    raw: bytes | None
    status: str  # signed, refused


@dataclass
class TxOutcome:
    """What the chain says about a journaled transaction."""

    tx: JournaledTx
    state: str  # mined, pending (may still be mined), impossible, refused
    block_number: int | None = None
    succeeded: bool | None = None

    @property
    def may_happen(self) -> bool:
        return self.state in ("mined", "pending")

    def summary(self) -> dict[str, Any]:
        return {"tx_hash": self.tx.tx_hash, "sender": self.tx.sender, "nonce": self.tx.nonce,
                "block_number": self.block_number, "succeeded": self.succeeded}


def _count(result: Any) -> int:
    """Rows an UPDATE or DELETE changed."""
    return int(result.rowcount)


def fingerprint(method: str, path: str, body: bytes) -> str:
    import hashlib

    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


# -- the chain's view of journaled transactions ------------------------------------------------
def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _receipt(chain: ChainBackend, tx_hash: str) -> Any:
    rcpt = raw_request(chain.w3, "eth_getTransactionReceipt", [tx_hash])
    return rcpt if rcpt is not None and rcpt.get("blockNumber") is not None else None


def _mined(entry: JournaledTx, rcpt: Any) -> TxOutcome:
    return TxOutcome(entry, "mined", _int(rcpt["blockNumber"]), _int(rcpt["status"]) == 1)


def classify(chain: ChainBackend, entries: list[JournaledTx],
             rebroadcast: bool = True) -> list[TxOutcome]:
    """Each journaled transaction's state on chain; a still-valid one is broadcast again (the
    node may never have received it, or dropped it)."""
    out: list[TxOutcome] = []
    used: dict[str, int] = {}
    for e in sorted(entries, key=lambda x: (x.sender, x.nonce, x.seq)):
        if e.status == "refused":
            out.append(TxOutcome(e, "refused"))
            continue
        rcpt = _receipt(chain, e.tx_hash)
        if rcpt is not None:
            out.append(_mined(e, rcpt))
            continue
        if e.sender not in used:
            used[e.sender] = _int(raw_request(chain.w3, "eth_getTransactionCount",
                                              [e.sender, "latest"]))
        if used[e.sender] > e.nonce:
            rcpt = _receipt(chain, e.tx_hash)  # mined between the two reads?
            out.append(_mined(e, rcpt) if rcpt is not None else TxOutcome(e, "impossible"))
            continue
        if rebroadcast and e.raw:
            try:
                broadcast_signed(chain, SignedTx(e.sender, e.nonce, e.tx_hash, e.raw,
                                                 e.call_hash))
                log.info("rebroadcast journaled transaction %s (%s nonce %d)", e.tx_hash,
                         e.sender, e.nonce)
            except Exception as exc:  # already known, underpriced, ...: the receipt decides
                log.info("rebroadcast of %s: %s", e.tx_hash, exc)
            rcpt = _receipt(chain, e.tx_hash)
            if rcpt is not None:
                out.append(_mined(e, rcpt))
                continue
        out.append(TxOutcome(e, "pending"))
    return sorted(out, key=lambda o: o.tx.seq)


class RequestJournal:
    """The `TxJournal` of one run of an idempotent request (see `scf_chain.chain.sender`)."""

    def __init__(self, store: IdempotencyStore, claim: Claim, chain: ChainBackend | None,
                 earlier: list[TxOutcome] | None = None) -> None:
        self.store, self.claim, self.chain = store, claim, chain
        self.earlier = earlier or []
        # what happened or may still happen, in the order the effect sent it
        self.replay = [o for o in self.earlier if o.may_happen]
        self.cursor = 0
        self.next_seq = max((o.tx.seq for o in self.earlier), default=-1) + 1
        self.sent: list[SignedTx] = []  # this run's, written (or being written) to the journal
        self.refused_hashes: set[str] = set()

    # -- TxJournal -------------------------------------------------------------------------------
    def match(self, sender: str, call_hash: str) -> str | None:
        if self.cursor >= len(self.replay):
            return None  # past what was journaled: a new send
        o = self.replay[self.cursor]
        if o.tx.sender.lower() != sender.lower() or o.tx.call_hash != call_hash:
            raise OutcomeDiverged(
                f"run again, the request asks {sender} for a different transaction than the "
                f"journaled {o.tx.tx_hash}", self.mined())
        self.cursor += 1
        return o.tx.tx_hash

    def record(self, tx: SignedTx) -> None:
        seq = self.next_seq
        self.next_seq += 1
        self.sent.append(tx)  # first: should the write fail, it may still have been committed
        self.store.record_tx(self.claim, seq, tx)

    def refused(self, tx: SignedTx) -> None:
        self.refused_hashes.add(tx.tx_hash)
        try:
            self.store.mark_refused(self.claim, tx.tx_hash)
        except Exception:  # it stays 'signed': resolution finds its nonce reused or free
            log.warning("could not mark journaled %s refused", tx.tx_hash, exc_info=True)

    def read_block(self) -> int | str:
        if self.cursor >= len(self.replay) or self.chain is None:
            return "latest"
        o = self.replay[self.cursor]
        if o.block_number is None:
            rcpt = _receipt(self.chain, o.tx.tx_hash)
            if rcpt is None:
                return "latest"
            o.block_number, o.succeeded, o.state = (_int(rcpt["blockNumber"]),
                                                    _int(rcpt["status"]) == 1, "mined")
        return max(o.block_number - 1, 0)

    # -- after the effect --------------------------------------------------------------------------
    @property
    def journaled(self) -> bool:
        """Whether this request has journal entries (of this run or an earlier one)."""
        return bool(self.earlier) or bool(self.sent)

    @property
    def may_have_left(self) -> bool:
        """Whether a transaction of this request may have reached the chain."""
        return bool(self.replay) or any(t.tx_hash not in self.refused_hashes for t in self.sent)

    def unconsumed(self) -> list[TxOutcome]:
        """Journaled transactions that happened or may happen, which this run did not retrace."""
        return self.replay[self.cursor:]

    def mined(self) -> list[dict[str, Any]]:
        if self.chain is not None:
            for o in self.replay:
                if o.state == "pending":
                    rcpt = _receipt(self.chain, o.tx.tx_hash)
                    if rcpt is not None:
                        o.state, o.block_number, o.succeeded = ("mined", _int(rcpt["blockNumber"]),
                                                                _int(rcpt["status"]) == 1)
        return [o.summary() for o in self.replay if o.state == "mined"]

    def tx_hashes(self) -> list[str]:
        hashes = [o.tx.tx_hash for o in self.replay]
        hashes += [t.tx_hash for t in self.sent if t.tx_hash not in self.refused_hashes]
        return list(dict.fromkeys(hashes))


@dataclass
class Recovery:
    """What `IdempotencyStore.recover` found at start."""

    released: int = 0  # unfinished requests that had no effect: their keys are free again
    interrupted: int = 0  # unfinished requests with transactions: resolved by the client's retry
    rebroadcast: list[str] = field(default_factory=list)
    purged: int = 0


class IdempotencyStore:
    """Records (participant, key) → request fingerprint, the run working on it, its transaction
    journal, and the response it produced.

    `begin` claims the key atomically (primary key insert): of two concurrent requests with the
    same key exactly one runs; the other is told the first is in progress. A completed key replays
    its response. A record whose run is no longer alive in this process (it ended without an
    answer, or the process that ran it died) is taken over by a retry and resolved from its
    journal. A run's token names its process (`processes`): a record owned by a run of another
    process is running while that process lives (on PostgreSQL several gateway processes share
    the store); on SQLite one process serves the store, so a record owned by a run that is not
    running here is an orphan.
    """

    def __init__(self, sessions: sessionmaker[Session], ttl_s: float = DEFAULT_TTL_S,
                 chain: ChainBackend | None = None,
                 processes: ProcessLease | None = None) -> None:
        self.sessions = sessions
        # the statements every POST runs, built once: SQLAlchemy then reuses their compiled
        # form without rebuilding and re-keying a statement per request
        records = cast(Table, IdempotencyRecord.__table__)
        journal = cast(Table, TxJournalEntry.__table__)
        self._claim = records.insert()
        self._record = journal.insert()
        self._answer = update(records).where(
            records.c.participant == bindparam("b_participant"),
            records.c.key == bindparam("b_key"), records.c.owner == bindparam("b_owner")).values(
            state=DONE, status_code=bindparam("b_status"), body=bindparam("b_body",
                                                                          type_=records.c.body.type),
            owner=None)
        self._drop_raw = update(journal).where(
            journal.c.participant == bindparam("b_participant"),
            journal.c.key == bindparam("b_key")).values(raw=None)
        self.ttl_s = ttl_s
        self.chain = chain
        self.processes = processes or ProcessLease(None)
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._purge_lock = threading.Lock()
        self._next_purge = 0.0

    @property
    def _engine(self) -> Engine:
        """The sessions' engine (looked up each time: tests re-bind the sessions)."""
        engine: Engine = self.sessions.kw["bind"]
        return engine

    # -- claiming ------------------------------------------------------------------------------------
    def running(self, token: str | None) -> bool:
        """Whether the run `token` is still working: here, or in another live process."""
        if token is None:
            return False
        with self._lock:
            if token in self._running:
                return True
        process, sep, _ = token.partition("-")
        if not sep or int(process, 16) == self.processes.id:
            return False  # ours and ended, or a token from before tokens named their process
        return self.processes.alive(int(process, 16))

    def begin(self, participant: str, key: str, request_hash: str) -> StoredResponse | Claim:
        """The stored answer, or a claim to run (or resume) the request. Raises
        IdempotencyConflict when it cannot run now."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise IdempotencyKeyInvalid("idempotency_key_invalid",
                                      f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} characters")
        self.maybe_purge()
        token = f"{self.processes.id:08x}-{uuid.uuid4().hex}"
        with self._lock:
            self._running.add(token)
        try:
            for _ in range(3):
                claim_or_answer = self._try_claim(participant, key, request_hash, token)
                if claim_or_answer is not None:
                    return claim_or_answer
            raise IdempotencyConflict("idempotency_key_in_use", "retry this request")
        except BaseException:
            self.end_token(token)
            raise

    def _try_claim(self, participant: str, key: str, request_hash: str,
                   token: str) -> StoredResponse | Claim | None:
        now = time.time()
        # the common case, a new key, in one Core statement (no unit of work): this runs for
        # every POST
        try:
            with self._engine.begin() as conn:
                conn.execute(self._claim, {
                    "participant": participant, "key": key, "request_hash": request_hash,
                    "state": PENDING, "owner": token, "created_at": now,
                    "expires_at": now + self.ttl_s})
            return Claim(participant, key, token, resumed=False)
        except IntegrityError:
            pass
        with self.sessions() as s:
            rec = s.get(IdempotencyRecord, (participant, key))
            if rec is None:  # deleted between our insert and read: claim it again
                return None
            if rec.state in (DONE, UNKNOWN) and (rec.expires_at or 0) < now:
                # an expired answer not purged yet: the key is free (same rule as the purge)
                s.execute(delete(IdempotencyRecord).where(
                    IdempotencyRecord.participant == participant, IdempotencyRecord.key == key,
                    IdempotencyRecord.state == rec.state))
                s.execute(delete(TxJournalEntry).where(TxJournalEntry.participant == participant,
                                                       TxJournalEntry.key == key))
                s.commit()
                return None
            if rec.request_hash != request_hash:
                raise IdempotencyKeyInvalid(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request; use a new key")
            if rec.state == DONE:
                return StoredResponse(int(rec.status_code or 200), rec.body)
            if rec.state == UNKNOWN:  # written by a release before the journal existed
                raise IdempotencyConflict(
                    "outcome_unknown",
                    "the first request with this key was sent to the chain but not confirmed in "
                    "time; check the resource's state before retrying with a new key")
            if self.running(rec.owner):
                raise IdempotencyConflict("idempotency_key_in_use",
                                          "a request with this Idempotency-Key is still running")
            # an orphan (its run ended without an answer, or its process died): take it over
            old_owner = (IdempotencyRecord.owner.is_(None) if rec.owner is None
                         else IdempotencyRecord.owner == rec.owner)
            taken = _count(s.execute(update(IdempotencyRecord)
                              .where(IdempotencyRecord.participant == participant,
                                     IdempotencyRecord.key == key,
                                     IdempotencyRecord.state == rec.state, old_owner)
                              .values(state=PENDING, owner=token)))
            s.commit()
            if taken != 1:
                raise IdempotencyConflict("idempotency_key_in_use",
                                          "a request with this Idempotency-Key is still running")
            return Claim(participant, key, token, resumed=True)

    def end_token(self, token: str) -> None:
        with self._lock:
            self._running.discard(token)

    def end(self, claim: Claim) -> None:
        """The run is over (whatever it wrote): its record is no longer being worked on."""
        self.end_token(claim.token)

    # -- outcomes -------------------------------------------------------------------------------------
    def _owned(self, claim: Claim) -> Any:
        return (IdempotencyRecord.participant == claim.participant,
                IdempotencyRecord.key == claim.key, IdempotencyRecord.owner == claim.token)

    def finish(self, claim: Claim, status_code: int, body: Any, journaled: bool = True) -> None:
        """Store the answer. The journal keeps hashes; signed bytes are no longer needed."""
        which = {"b_participant": claim.participant, "b_key": claim.key}
        with self._engine.begin() as conn:  # Core statements: this runs for every POST
            n = _count(conn.execute(self._answer, {**which, "b_owner": claim.token,
                                                   "b_status": status_code, "b_body": body}))
            if journaled:
                conn.execute(self._drop_raw, which)
        if n != 1:
            log.warning("idempotency record %s/%s was taken over before its answer was stored",
                        claim.participant, claim.key)

    def interrupt(self, claim: Claim) -> None:
        """The run ends without an answer after a transaction may have left: keep the key (and
        own it no more: a retry reaching another process takes it over)."""
        with self.sessions() as s:
            s.execute(update(IdempotencyRecord).where(*self._owned(claim))
                      .values(state=INTERRUPTED, owner=None))
            s.commit()

    def release(self, claim: Claim) -> None:
        """The run failed before any transaction left the process: free the key."""
        with self.sessions() as s:
            n = _count(s.execute(delete(IdempotencyRecord).where(*self._owned(claim))))
            if n:
                s.execute(delete(TxJournalEntry)
                          .where(TxJournalEntry.participant == claim.participant,
                                 TxJournalEntry.key == claim.key))
            s.commit()

    # -- the journal ------------------------------------------------------------------------------------
    def record_tx(self, claim: Claim, seq: int, tx: SignedTx) -> None:
        with self._engine.begin() as conn:  # before every broadcast: one Core statement
            conn.execute(self._record, {
                "participant": claim.participant, "key": claim.key, "seq": seq,
                "sender": tx.sender, "nonce": tx.nonce, "tx_hash": tx.tx_hash,
                "call_hash": tx.call_hash, "raw": tx.raw, "status": "signed",
                "created_at": time.time()})

    def mark_refused(self, claim: Claim, tx_hash: str) -> None:
        with self.sessions() as s:
            s.execute(update(TxJournalEntry)
                      .where(TxJournalEntry.participant == claim.participant,
                             TxJournalEntry.key == claim.key, TxJournalEntry.tx_hash == tx_hash)
                      .values(status="refused"))
            s.commit()

    def journal(self, participant: str, key: str) -> list[JournaledTx]:
        with self.sessions() as s:
            rows = s.scalars(select(TxJournalEntry)
                             .where(TxJournalEntry.participant == participant,
                                    TxJournalEntry.key == key)
                             .order_by(TxJournalEntry.seq)).all()
            return [JournaledTx(r.seq, r.sender, int(r.nonce), r.tx_hash, r.call_hash,
                                None if r.raw is None else bytes(r.raw), r.status) for r in rows]

    def open_journal(self, claim: Claim) -> RequestJournal:
        """The journal for a run: empty for a new request; for a resumed one, its earlier
        transactions as the chain sees them now (still-valid ones broadcast again)."""
        earlier: list[TxOutcome] = []
        if claim.resumed:
            entries = self.journal(claim.participant, claim.key)
            if entries:
                if self.chain is None:
                    raise OutcomePending("no chain to resolve this request's transactions",
                                         [e.tx_hash for e in entries])
                earlier = classify(self.chain, entries)
        return RequestJournal(self, claim, self.chain, earlier)

    # -- start and expiry ------------------------------------------------------------------------------
    def recover(self) -> Recovery:
        """At start: resolve every unfinished record no live run holds. One with nothing journaled
        (or nothing that happened or can happen) had no effect: its key is freed. The others are
        marked interrupted, their still-valid transactions broadcast again; a retry of the
        request finishes them from the chain."""
        report = Recovery()
        with self.sessions() as s:
            recs = s.execute(select(IdempotencyRecord.participant, IdempotencyRecord.key,
                                    IdempotencyRecord.owner)
                             .where(IdempotencyRecord.state.in_(UNFINISHED))).all()
        for participant, key, owner in recs:
            if self.running(owner):
                continue
            entries = self.journal(participant, key)
            outcomes = (classify(self.chain, entries) if entries and self.chain is not None
                        else [])
            if entries and (self.chain is None or any(o.may_happen for o in outcomes)):
                report.rebroadcast += [o.tx.tx_hash for o in outcomes if o.state == "pending"]
                with self.sessions() as s:
                    s.execute(update(IdempotencyRecord)
                              .where(IdempotencyRecord.participant == participant,
                                     IdempotencyRecord.key == key,
                                     IdempotencyRecord.state.in_(UNFINISHED))
                              .values(state=INTERRUPTED))
                    s.commit()
                report.interrupted += 1
                continue
            with self.sessions() as s:
                owned = (IdempotencyRecord.owner.is_(None) if owner is None
                         else IdempotencyRecord.owner == owner)
                n = _count(s.execute(delete(IdempotencyRecord)
                              .where(IdempotencyRecord.participant == participant,
                                     IdempotencyRecord.key == key,
                                     IdempotencyRecord.state.in_(UNFINISHED), owned)))
                if n:
                    s.execute(delete(TxJournalEntry)
                              .where(TxJournalEntry.participant == participant,
                                     TxJournalEntry.key == key))
                s.commit()
            report.released += n
        report.purged = self.purge()
        if report.released or report.interrupted or report.purged:
            log.info("idempotency recovery: %d unfinished request(s) had no effect (keys freed), "
                     "%d wait for their retry (%d transaction(s) rebroadcast), %d expired "
                     "record(s) purged", report.released, report.interrupted,
                     len(report.rebroadcast), report.purged)
        return report

    def purge(self, now: float | None = None) -> int:
        """Delete expired records: answered ones, and unfinished ones with nothing journaled that
        no live run holds. An unfinished record with journaled transactions is kept until it is
        resolved (its answer may still be owed)."""
        now = time.time() if now is None else now
        with self.sessions() as s:
            journaled = select(TxJournalEntry.id).where(
                TxJournalEntry.participant == IdempotencyRecord.participant,
                TxJournalEntry.key == IdempotencyRecord.key).exists()
            expired = s.execute(
                select(IdempotencyRecord.participant, IdempotencyRecord.key,
                       IdempotencyRecord.state, IdempotencyRecord.owner)
                .where(IdempotencyRecord.expires_at < now,
                       or_(IdempotencyRecord.state.in_((DONE, UNKNOWN)), ~journaled))).all()
            gone = 0
            for participant, key, state, owner in expired:
                if state in UNFINISHED and self.running(owner):
                    continue
                n = _count(s.execute(delete(IdempotencyRecord).where(
                    IdempotencyRecord.participant == participant, IdempotencyRecord.key == key,
                    IdempotencyRecord.state == state,
                    IdempotencyRecord.expires_at < now)))
                if n:
                    s.execute(delete(TxJournalEntry).where(
                        TxJournalEntry.participant == participant, TxJournalEntry.key == key))
                gone += n
            s.commit()
        return gone

    def maybe_purge(self) -> None:
        """Purge now and then (from the request path; one caller at a time, never blocking)."""
        if time.monotonic() < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = time.monotonic() + min(PURGE_INTERVAL_S, self.ttl_s)
            self.purge()
        except Exception:  # the next interval retries; a request must not fail for it
            log.warning("purging expired idempotency records failed", exc_info=True)
        finally:
            self._purge_lock.release()
