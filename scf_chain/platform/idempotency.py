"""Idempotency-Key handling: a retried POST gets the first response, never a second effect."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.db.models import IdempotencyRecord
from scf_chain.errors import ScfError

MAX_KEY_LENGTH = 255
# A request still "pending" after this long did not finish: the gateway stopped (restart, crash)
# between claiming the key and recording the answer. It may have sent transactions.
DEFAULT_STALE_AFTER_S = 300.0


class IdempotencyConflict(ScfError, RuntimeError):
    """The key is in use: by a request still running, by another request, or its outcome is unknown."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class IdempotencyStore:
    """Records (participant, key) → request fingerprint and the response it produced.

    `begin` claims the key atomically (primary key insert): of two concurrent requests with the
    same key exactly one runs; the other is told the first is in progress. A completed key replays
    its response. A request whose outcome is unknown (the node did not confirm in time) keeps its
    key blocked, so a blind retry cannot pay twice.
    """

    def __init__(self, sessions: sessionmaker[Session],
                 stale_after_s: float = DEFAULT_STALE_AFTER_S) -> None:
        self.sessions = sessions
        self.stale_after_s = stale_after_s

    def begin(self, participant: str, key: str, request_hash: str) -> StoredResponse | None:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise IdempotencyConflict("idempotency_key_invalid",
                                      f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} characters")
        with self.sessions() as s:
            s.add(IdempotencyRecord(participant=participant, key=key, request_hash=request_hash,
                                    state="pending", created_at=time.time()))
            try:
                s.commit()
                return None
            except IntegrityError:
                s.rollback()
            rec = s.get(IdempotencyRecord, (participant, key))
            if rec is None:  # deleted between our insert and read: the other request failed
                raise IdempotencyConflict("idempotency_key_in_use", "retry this request")
            if rec.request_hash != request_hash:
                raise IdempotencyConflict(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request; use a new key")
            if rec.state == "pending" and rec.created_at < time.time() - self.stale_after_s:
                # never run again (it may have reached the chain): its outcome is unknown,
                # unless it finished just now (the update then changes nothing: read it again)
                s.execute(update(IdempotencyRecord)
                          .where(IdempotencyRecord.participant == participant,
                                 IdempotencyRecord.key == key,
                                 IdempotencyRecord.state == "pending")
                          .values(state="unknown"))
                s.commit()
                s.refresh(rec)
            if rec.state == "done":
                return StoredResponse(int(rec.status_code or 200), rec.body)
            if rec.state == "unknown":
                raise IdempotencyConflict(
                    "outcome_unknown",
                    "the first request with this key was sent to the chain but not confirmed in "
                    "time; check the resource's state before retrying with a new key")
            raise IdempotencyConflict("idempotency_key_in_use",
                                      "a request with this Idempotency-Key is still running")

    def finish(self, participant: str, key: str, status_code: int, body: Any) -> None:
        with self.sessions() as s:
            s.execute(update(IdempotencyRecord)
                      .where(IdempotencyRecord.participant == participant,
                             IdempotencyRecord.key == key)
                      .values(state="done", status_code=status_code, body=body))
            s.commit()

    def abandon(self, participant: str, key: str, outcome_unknown: bool = False) -> None:
        """The request failed before any effect (free the key), or with an unknown outcome."""
        with self.sessions() as s:
            rec = s.get(IdempotencyRecord, (participant, key))
            if rec is None:
                return
            if outcome_unknown:
                rec.state = "unknown"
            else:
                s.delete(rec)
            s.commit()
