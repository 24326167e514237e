"""API keys: issued once as `scf_<id>_<secret>`, kept only as the SHA-256 of the secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.db.models import ApiKey, GatewayParticipant
from scf_chain.errors import AuthError

PREFIX = "scf"


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: `token` is shown to its holder once and never stored."""

    key_id: str
    participant: str
    token: str


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(session: Session, participant: str) -> IssuedKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    session.add(ApiKey(key_id=key_id, secret_hash=_hash(secret), participant=participant,
                       created_at=int(time.time())))
    return IssuedKey(key_id, participant, f"{PREFIX}_{key_id}_{secret}")


def revoke_key(session: Session, key_id: str) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = int(time.time())
    return True


def authenticate(session: Session, token: str) -> GatewayParticipant:
    """The participant a token belongs to; AuthError without saying which part was wrong."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise AuthError("malformed API key")
    row = session.execute(
        select(ApiKey.secret_hash, ApiKey.revoked_at, GatewayParticipant)
        .join(GatewayParticipant, GatewayParticipant.name == ApiKey.participant)
        .where(ApiKey.key_id == parts[1])).first()
    # compare even when the key is unknown, so timing does not reveal which key ids exist
    expected = row[0] if row is not None else _hash("")
    if not hmac.compare_digest(expected, _hash(parts[2])) or row is None or row[1]:
        raise AuthError("invalid or revoked API key")
    return row[2]  # type: ignore[no-any-return]


def keys_of(session: Session, participant: str) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.participant == participant)
                                .order_by(ApiKey.created_at)))


class Authenticator:
    """`authenticate`, remembered for `ttl_s` per API key: most requests of a busy client then
    skip the store (a query and, in the gateway, a thread hand-over per request).

    What a remembered answer may miss, for at most `ttl_s`: a key revoked, or a participant's
    roles or address changed, by *another* process sharing the store (this process forgets
    everything it remembered when it makes such a change itself). A failed authentication is
    never remembered. `ttl_s` 0: every request asks the store.
    """

    def __init__(self, sessions: sessionmaker[Session], ttl_s: float,
                 max_entries: int = 10_000) -> None:
        self.sessions, self.ttl_s, self.max_entries = sessions, ttl_s, max_entries
        self._known: dict[str, tuple[float, GatewayParticipant]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> GatewayParticipant | None:
        """The participant of `token` if it authenticated within `ttl_s`, else None (ask
        `authenticate`). Never raises, never touches the store."""
        if self.ttl_s <= 0:
            return None
        key = _hash(token)
        with self._lock:
            hit = self._known.get(key)
            if hit is None:
                return None
            if time.monotonic() - hit[0] >= self.ttl_s:
                del self._known[key]
                return None
            return hit[1]

    def authenticate(self, token: str) -> GatewayParticipant:
        """The participant `token` belongs to, from the store; AuthError otherwise."""
        with self.sessions() as s:
            participant = authenticate(s, token)
        if self.ttl_s > 0:
            with self._lock:
                if len(self._known) >= self.max_entries:
                    self._known.clear()
                self._known[_hash(token)] = (time.monotonic(), participant)
        return participant

    def forget(self) -> None:
        """Drop every remembered answer (a key was revoked, a participant changed)."""
        with self._lock:
            self._known.clear()
