"""The gateway over HTTP (httpx): reads, and writes that are prepared, signed here and submitted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from scf_chain.errors import GatewayError
from scf_chain.sdk.signer import Signer

# How often a submit answered `outcome_pending` (503) is sent again with the same transaction.
PENDING_RETRIES = 30


@dataclass(frozen=True)
class Prepared:
    """A transaction the gateway prepared for this participant to sign."""

    prepared_id: str
    step: int
    route: str
    transaction: dict[str, Any]
    call: dict[str, Any]
    summary: dict[str, str]
    expires_at: int

    @classmethod
    def of(cls, body: dict[str, Any]) -> Prepared:
        return cls(body["prepared_id"], int(body["step"]), body["route"], body["transaction"],
                   body["call"], body["summary"], int(body["expires_at"]))


class Gateway:
    """One participant's client. With a `signer` the participant signs itself: `post` prepares
    the route's transaction, lets `review` see it, signs it locally and submits it, as many
    times as the request needs, and returns the route's own answer. Without one the gateway
    signs (a custodial participant) and `post` is a plain idempotent POST.

    `http`: an httpx.Client to use (e.g. FastAPI's TestClient); else one for `base_url`.
    `review(prepared)`: return False to refuse to sign (raises GatewayError `refused_by_review`).
    """

    def __init__(self, base_url: str, api_key: str, signer: Signer | None = None,
                 http: httpx.Client | None = None, timeout_s: float = 180.0,
                 review: Callable[[Prepared], bool] | None = None) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout_s)
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.signer, self.review = signer, review

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plain HTTP ------------------------------------------------------------------------------
    def _answer(self, r: httpx.Response, ok: tuple[int, ...] = (200, 201)) -> Any:
        if r.status_code not in ok:
            try:
                problem = r.json()
            except ValueError:
                problem = {"title": r.text}
            raise GatewayError(r.status_code, problem if isinstance(problem, dict)
                               else {"title": str(problem)})
        return r.json() if "json" in r.headers.get("content-type", "") else r.text

    def get(self, path: str, **params: Any) -> Any:
        return self._answer(self.http.get(path, params=params or None, headers=self.headers))

    # -- writes ----------------------------------------------------------------------------------
    def post(self, path: str, body: Any = None) -> Any:
        """Run a write route and return its answer (signed here if this participant signs)."""
        if self.signer is None:
            return self._answer(self.http.post(path, json=body, headers={
                **self.headers, "Idempotency-Key": str(uuid.uuid4())}))
        step = self.prepare(path, body)
        while True:
            answer = self.submit(step, self.sign(step))
            if not isinstance(answer, Prepared):
                return answer
            step = answer  # the request needs this participant's next transaction

    def prepare(self, path: str, body: Any = None) -> Prepared:
        """The unsigned transaction `POST path` needs from this participant (nothing is sent)."""
        return Prepared.of(self._answer(self.http.post(f"/prepare{path}", json=body,
                                                       headers=self.headers)))

    def sign(self, prepared: Prepared) -> str:
        if self.signer is None:
            raise GatewayError(409, {"code": "no_signer", "detail": "this client has no signer"})
        if self.review is not None and not self.review(prepared):
            raise GatewayError(409, {"code": "refused_by_review",
                                     "detail": f"{prepared.prepared_id} was not approved: "
                                               f"{prepared.summary.get('en')}"})
        return self.signer.sign(prepared.transaction)

    def submit(self, prepared: Prepared, signed_transaction: str) -> Any:
        """Submit a signed transaction: the route's answer, or the next step to sign
        (a `Prepared`). An `outcome_pending` answer is retried with the same transaction."""
        body = {"prepared_id": prepared.prepared_id, "signed_transaction": signed_transaction}
        for _ in range(PENDING_RETRIES):
            r = self.http.post("/custody/submit", json=body, headers=self.headers)
            if r.status_code == 503 and r.headers.get("content-type", "").startswith(
                    "application/problem") and r.json().get("code") == "outcome_pending":
                time.sleep(float(r.headers.get("Retry-After", "2")))
                continue
            if r.status_code == 202:
                return Prepared.of(r.json())
            return self._answer(r, (200, 201))
        return self._answer(r, (200, 201))
