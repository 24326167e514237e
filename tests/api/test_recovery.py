"""A request whose transaction may have left the process is never run twice: errors after the
broadcast keep its Idempotency-Key (503 outcome_pending), and a retry, or the gateway's next
start, finishes it from the journal of signed transactions; gateways killed between signing and
broadcast, between broadcast and receipt, and after the receipt pay exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, make_url, select

from api.main import create_app
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.chain.sender import TxSender
from scf_chain.config import Settings
from scf_chain.db.models import IdempotencyRecord, Offer, TxJournalEntry
from scf_chain.platform.core import Platform
from tests.api.conftest import Api, World
from tests.api.test_routes import _receivable
from tests.indexer.fixtures import _pg_admin, fresh_pg_database

pytestmark = pytest.mark.xdist_group(__name__)
DAY = 86_400
FACE, OFFERED, PRICE = 500_000, 100_000, 98_000


class Crash(BaseException):
    """The process dies here: no handler of the gateway runs (it is not an Exception)."""

    raised = 0

    def __init__(self, where: str) -> None:
        super().__init__(where)
        Crash.raised += 1


def _dies(request: Any) -> None:
    """`request()` kills the gateway (the test client reports it as the crash or a cancel)."""
    before = Crash.raised
    with pytest.raises(BaseException):  # noqa: B017 - whatever the dying process leaves
        request()
    assert Crash.raised == before + 1


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database of this module's own: its backends are terminated without touching others'."""
    with fresh_pg_database() as url:
        yield url


class Gateway:
    """A gateway on a store that outlives it: `restart` abandons the running one (as a killed
    process leaves its store) and opens a new one on the same store, keystore and chain."""

    def __init__(self, settings: Settings, chain: EmbeddedChain) -> None:
        self.settings, self.chain = settings, chain
        self.platform: Platform | None = None
        self.client: TestClient | None = None
        self.world: World | None = None
        self.keys: dict[str, str] = {}

    def start(self) -> World:
        self.platform = Platform.open(self.settings, chain=self.chain)
        self.client = TestClient(create_app(self.platform))
        self.client.__enter__()
        if "operator" not in self.keys:
            self.keys["operator"] = self.platform.issue_api_key("operator").token
        old = self.world
        self.world = World(self.platform, self.client, self.keys["operator"])
        if old is not None:  # the same participants and keys, through the new process
            self.world._n = old._n
            self.world.apis = {n: Api(self.client, a.key) for n, a in old.apis.items()}
        return self.world

    def stop(self) -> None:
        if self.client is not None:
            try:
                self.client.__exit__(None, None, None)
            except BaseException:  # noqa: B036 - a client whose request died with the process
                pass
        if self.platform is not None:
            self.platform.sessions.kw["bind"].dispose()
            self.platform.close()

    def restart(self) -> World:
        self.stop()
        return self.start()

    def api(self, name: str) -> Api:
        assert self.world is not None
        return self.world.apis[name]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                                marks=pytest.mark.postgres)])
def gateway(request: pytest.FixtureRequest, embedded_chain: EmbeddedChain,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base: Path = tmp_path_factory.mktemp(f"recovery-{request.param}")
    url = (request.getfixturevalue("pg_url") if request.param == "postgresql"
           else f"sqlite:///{base}/scf.db")
    settings = Settings(data_dir=base, database_url=url, keystore_path=base / "keys",
                        keystore_password="recovery", keystore_scrypt_n=2**10,
                        document_store_path=base / "documents",
                        deployment_file=base / "deployment.json", receipt_timeout_s=20)
    gw = Gateway(settings, embedded_chain)
    world = gw.start()
    for role, prefix, funds in (("debtor", "core", 10**9), ("supplier", "sup", 0),
                                ("financier", "bank", 10**9), ("anchorer", "log", 0)):
        world.participant(prefix, [role], funds)
    r = world.operator.post("/participants/core-0/credit-limit", {"limit": str(10**12)})
    assert r.status_code == 200, r.text
    # The failures injected here hit the store access that follows a request's transaction
    # (platform.sync); the risk gates read the store before it, so they are off in this module
    # (tests/risk/test_gates.py tests them, and that a blocked request sends nothing).
    r = world.operator.post("/risk/policy", {
        "rate_ceiling": "off", "debtor_exposure": "off", "evidence_consistency": "off",
        "min_grade": "off", "reason": "recovery tests: failures after the transaction"})
    assert r.status_code in (200, 201), r.text
    try:
        yield gw
    finally:
        gw.stop()


def _cast(gw: Gateway) -> dict[str, Any]:
    w = gw.world
    assert w is not None
    return {"core": ("core-0", w.apis["core-0"]), "a": ("sup-1", w.apis["sup-1"]),
            "bank": ("bank-2", w.apis["bank-2"]), "log": ("log-3", w.apis["log-3"])}


def _offer_body(gw: Gateway, token: int) -> dict[str, Any]:
    assert gw.platform is not None
    return {"token_id": str(token), "value": str(OFFERED), "financier": "bank-2",
            "price": str(PRICE), "expiry": gw.platform.chain.now() + DAY}


def _offers_of(gw: Gateway, token: int) -> list[Offer]:
    """Every offer made from `token`, as indexed from the chain's Offered events."""
    assert gw.platform is not None
    gw.platform.sync()
    with gw.platform.sessions() as s:
        return list(s.scalars(select(Offer).where(Offer.source_token_id == token)))


def _value_on_chain(gw: Gateway, token: int) -> int:
    assert gw.platform is not None
    return gw.platform.token(gw.platform.operator_account).value_of(token)


def _record(gw: Gateway, key: str) -> IdempotencyRecord | None:
    assert gw.platform is not None
    with gw.platform.sessions() as s:
        return s.get(IdempotencyRecord, ("sup-1", key))


def _assert_offered_once(gw: Gateway, token: int, answer: Any) -> None:
    assert answer.status_code == 201, answer.text
    offers = _offers_of(gw, token)
    assert len(offers) == 1, [o.offer_id for o in offers]  # one Offered event
    assert answer.json()["offer_id"] == str(offers[0].offer_id)
    assert answer.json()["value"] == str(OFFERED)
    assert _value_on_chain(gw, token) == FACE - OFFERED  # escrowed once


# -- 12: an error after the broadcast ---------------------------------------------------------------
def test_an_error_after_the_offer_was_mined_keeps_the_key_and_the_retry_gets_the_offer(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """platform.sync() fails after the offer's transaction was mined (a dropped store
    connection): the client is told the outcome is pending, not that it failed, and its retry
    with the same key gets the first offer. Before the journal, the 500 freed the key and the
    retry escrowed a second time."""
    gw = gateway
    _, token = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]
    platform = gw.platform
    assert platform is not None
    real_sync = platform.sync
    failed = {"n": 0}

    def store_drops_once(force: bool = False) -> None:
        if failed["n"] == 0:
            failed["n"] += 1
            raise RuntimeError("server closed the connection unexpectedly")
        real_sync(force)

    key = str(uuid.uuid4())
    body = _offer_body(gw, token)
    monkeypatch.setattr(platform, "sync", store_drops_once)
    first = gw.api("sup-1").post("/offers", body, idem=key)
    monkeypatch.setattr(platform, "sync", real_sync)
    assert first.status_code == 503, first.text
    problem = first.json()
    assert problem["code"] == "outcome_pending" and first.headers["Retry-After"]
    assert len(problem["tx_hashes"]) == 1
    assert _record(gw, key).state == "interrupted"  # type: ignore[union-attr]
    again = gw.api("sup-1").post("/offers", body, idem=key)
    _assert_offered_once(gw, token, again)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["status"] == "open"
    third = gw.api("sup-1").post("/offers", body, idem=key)  # the stored answer from now on
    assert third.json() == again.json() and third.headers["Idempotent-Replayed"] == "true"
    _assert_offered_once(gw, token, third)


def test_a_node_lost_after_the_broadcast_is_pending_not_unavailable(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """The receipt cannot be read (the node went away after accepting the transaction): not
    503 chain_unavailable with the key freed, but outcome_pending; the retry finds it mined."""
    from scf_chain.errors import ChainError

    gw = gateway
    _, token = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]
    real_wait = TxSender.wait

    def node_gone(self: TxSender, tx_hash: str, replay: Any = None) -> Any:
        raise ChainError("connection refused")

    key = str(uuid.uuid4())
    body = _offer_body(gw, token)
    monkeypatch.setattr(TxSender, "wait", node_gone)
    first = gw.api("sup-1").post("/offers", body, idem=key)
    monkeypatch.setattr(TxSender, "wait", real_wait)
    assert (first.status_code, first.json()["code"]) == (503, "outcome_pending"), first.text
    _assert_offered_once(gw, token, gw.api("sup-1").post("/offers", body, idem=key))


def test_an_error_before_any_transaction_still_frees_the_key(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing was signed (gas estimation could not reach the node): the key is free and the
    retry runs the request, once."""
    from scf_chain.errors import ChainError

    gw = gateway
    _, token = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]

    def no_node(self: TxSender, tx: Any) -> int:
        raise ChainError("gas estimation failed: connection refused")

    key = str(uuid.uuid4())
    body = _offer_body(gw, token)
    with monkeypatch.context() as m:
        m.setattr(TxSender, "estimate_gas", no_node)
        first = gw.api("sup-1").post("/offers", body, idem=key)
    assert (first.status_code, first.json()["code"]) == (503, "chain_unavailable")
    assert _record(gw, key) is None
    again = gw.api("sup-1").post("/offers", body, idem=key)
    _assert_offered_once(gw, token, again)
    assert "Idempotent-Replayed" not in again.headers


def test_a_retry_while_the_first_request_runs_is_told_it_is_in_use(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live request is never resolved under it: its concurrent retry gets 409
    idempotency_key_in_use and changes nothing; once it has answered, retries replay it."""
    gw = gateway
    _, token = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]
    real_wait = TxSender.wait
    waiting, go_on = threading.Event(), threading.Event()

    def slow_receipt(self: TxSender, tx_hash: str, replay: Any = None) -> Any:
        waiting.set()
        assert go_on.wait(60)
        return real_wait(self, tx_hash, replay)

    key = str(uuid.uuid4())
    body = _offer_body(gw, token)
    answers: list[Any] = []
    monkeypatch.setattr(TxSender, "wait", slow_receipt)
    worker = threading.Thread(
        target=lambda: answers.append(gw.api("sup-1").post("/offers", body, idem=key)))
    worker.start()
    try:
        assert waiting.wait(60)
        for _ in range(2):
            r = gw.api("sup-1").post("/offers", body, idem=key)
            assert (r.status_code, r.json()["code"]) == (409, "idempotency_key_in_use"), r.text
        rec = _record(gw, key)
        assert rec is not None and rec.state == "pending"
    finally:
        go_on.set()
        worker.join(timeout=60)
    monkeypatch.setattr(TxSender, "wait", real_wait)
    _assert_offered_once(gw, token, answers[0])
    replay = gw.api("sup-1").post("/offers", body, idem=key)
    assert replay.json() == answers[0].json() and replay.headers["Idempotent-Replayed"] == "true"


# -- 13: a gateway killed mid-request -----------------------------------------------------------
KILL_POINTS = ["between_signing_and_broadcast", "between_broadcast_and_receipt",
               "after_the_receipt"]


def _arm(gw: Gateway, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Make the gateway die at `point` of the next transaction (or right after its receipt)."""
    platform = gw.platform
    assert platform is not None
    if point == "between_signing_and_broadcast":
        real_rpc = TxSender._rpc

        def rpc(self: TxSender, method: str, params: list[Any]) -> Any:
            if method == "eth_sendRawTransaction":
                raise Crash(method)
            return real_rpc(self, method, params)

        monkeypatch.setattr(TxSender, "_rpc", rpc)
    elif point == "between_broadcast_and_receipt":
        def wait(self: TxSender, tx_hash: str, replay: Any = None) -> Any:
            raise Crash(tx_hash)

        monkeypatch.setattr(TxSender, "wait", wait)
    else:
        def sync(force: bool = False) -> None:
            raise Crash("sync")

        monkeypatch.setattr(platform, "sync", sync)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_gateway_killed_mid_offer_escrows_once_and_the_retry_gets_the_offer(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    gw = gateway
    _, token = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]
    key = str(uuid.uuid4())
    body = _offer_body(gw, token)
    with monkeypatch.context() as m:
        _arm(gw, m, point)
        _dies(lambda: gw.api("sup-1").post("/offers", body, idem=key))
    assert gw.platform is not None
    journal = gw.platform.idempotency.journal("sup-1", key)
    assert len(journal) == 1 and journal[0].raw  # written before it could leave
    gw.restart()  # start-up recovery: the signed offer is broadcast again if the node lacks it
    rec = _record(gw, key)
    assert rec is not None and rec.state == "interrupted"
    assert len(_offers_of(gw, token)) == 1  # on chain before anyone retried
    started = time.monotonic()
    again = gw.api("sup-1").post("/offers", body, idem=key)
    _assert_offered_once(gw, token, again)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert time.monotonic() - started < 20  # resolved from the chain, not after a stale time
    with gw.platform.sessions() as s:  # the answer is kept; the signed bytes are not
        assert s.scalar(select(func.count()).select_from(TxJournalEntry).where(
            TxJournalEntry.key == key, TxJournalEntry.raw.is_not(None))) == 0
    replay = gw.api("sup-1").post("/offers", body, idem=key)
    assert replay.json() == again.json()


def test_a_gateway_killed_between_approve_and_accept_pays_the_price_once(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepting is two transactions (the financier's approve, then the DvP accept). Killed
    after the approve was mined and the accept signed: the retry retraces the approve (its
    views read as before it) and finishes with the journaled accept; the price is paid once."""
    gw = gateway
    _, token = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]
    offer = gw.api("sup-1").post("/offers", _offer_body(gw, token))
    assert offer.status_code == 201, offer.text
    oid = offer.json()["offer_id"]
    assert gw.platform is not None
    money = gw.platform.money(gw.platform.operator_account)
    bank, sup = gw.world.address("bank-2"), gw.world.address("sup-1")  # type: ignore[union-attr]
    before = money.balance_of(bank), money.balance_of(sup)
    real_rpc = TxSender._rpc
    sends = {"n": 0}

    def second_broadcast_dies(self: TxSender, method: str, params: list[Any]) -> Any:
        if method == "eth_sendRawTransaction":
            sends["n"] += 1
            if sends["n"] == 2:
                raise Crash("accept signed, not sent")
        return real_rpc(self, method, params)

    key = str(uuid.uuid4())
    with monkeypatch.context() as m:
        m.setattr(TxSender, "_rpc", second_broadcast_dies)
        _dies(lambda: gw.api("bank-2").post(f"/offers/{oid}/accept", idem=key))
    assert sends["n"] == 2  # the approve was sent, the accept signed
    gw.restart()
    again = gw.api("bank-2").post(f"/offers/{oid}/accept", idem=key)
    assert again.status_code == 200, again.text
    assert again.json()["price"] == str(PRICE)
    money = gw.platform.money(gw.platform.operator_account)  # type: ignore[union-attr]
    assert (before[0] - money.balance_of(bank), money.balance_of(sup) - before[1]) == (PRICE,
                                                                                         PRICE)
    assert gw.api("bank-2").get(f"/offers/{oid}").json()["status"] == "accepted"
    replay = gw.api("bank-2").post(f"/offers/{oid}/accept", idem=key)
    assert replay.json() == again.json()


def test_a_journaled_transaction_whose_nonce_went_elsewhere_never_happened(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after signing, before broadcast; the account's nonce is then used by another
    transaction: the journaled one can never be mined, the request had no effect, its key is
    freed at start and the retry makes the offer (once)."""
    gw = gateway
    _, token = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]
    key = str(uuid.uuid4())
    body = _offer_body(gw, token)
    with monkeypatch.context() as m:
        _arm(gw, m, "between_signing_and_broadcast")
        _dies(lambda: gw.api("sup-1").post("/offers", body, idem=key))
    platform = gw.platform
    assert platform is not None
    journaled = platform.idempotency.journal("sup-1", key)[0]
    # the dead process's account sends something else with that nonce (a split of 1)
    sup = platform.participant("sup-1")
    moved = platform.token(sup).split(token, platform.participant("bank-2").address, 1)
    assert platform.chain.w3.eth.get_transaction(moved.tx.tx_hash)["nonce"] == journaled.nonce
    gw.restart()
    assert _record(gw, key) is None  # nothing of it can happen: the key is free
    again = gw.api("sup-1").post("/offers", body, idem=key)
    assert again.status_code == 201, again.text
    offers = _offers_of(gw, token)
    assert len(offers) == 1 and _value_on_chain(gw, token) == FACE - 1 - OFFERED


def test_a_replay_that_asks_for_a_different_transaction_is_failed_not_sent(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repayment cut off after its approve was mined; run again, the effect computes another
    approval (here: a changed gateway). Nothing is sent: the record is failed as
    outcome_diverged listing what was mined, and that answer is kept."""
    from scf_chain.clients.contracts import SettlementTokenClient

    gw = gateway
    slot, _ = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]
    real_rpc = TxSender._rpc
    sends = {"n": 0}

    def second_broadcast_dies(self: TxSender, method: str, params: list[Any]) -> Any:
        if method == "eth_sendRawTransaction":
            sends["n"] += 1
            if sends["n"] == 2:
                raise Crash("repay signed, not sent")
        return real_rpc(self, method, params)

    key = str(uuid.uuid4())
    with monkeypatch.context() as m:
        m.setattr(TxSender, "_rpc", second_broadcast_dies)
        _dies(lambda: gw.api("core-0").post(f"/receivables/{slot}/repayments",
                                            {"amount": "1234"}, idem=key))
    assert gw.platform is not None
    approve = gw.platform.idempotency.journal("core-0", key)[0]
    # the repay was signed but never broadcast: make it impossible, so only the approve counts
    real_approve = SettlementTokenClient.approve

    def approve_more(self: SettlementTokenClient, spender: str, amount: int) -> Any:
        return real_approve(self, spender, amount * 2)

    monkeypatch.setattr(SettlementTokenClient, "approve", approve_more)
    gw.restart()
    sent_before = gw.platform.chain.block_number()
    r = gw.api("core-0").post(f"/receivables/{slot}/repayments", {"amount": "1234"}, idem=key)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "outcome_diverged"
    assert approve.tx_hash in [m["tx_hash"] for m in problem["mined"]]
    # the journaled repay was rebroadcast at start (it was valid); nothing new was sent since
    assert gw.platform.chain.block_number() == sent_before
    again = gw.api("core-0").post(f"/receivables/{slot}/repayments", {"amount": "1234"},
                                  idem=key)
    assert again.status_code == 409 and again.json() == problem
    assert again.headers["Idempotent-Replayed"] == "true"
    # what was mined is all that happened: the journaled repayment, once
    settled = gw.api("core-0").get(f"/receivables/{slot}/settlement").json()
    assert settled["repaid"] == "1234"


# -- 12 on PostgreSQL, as reported: the store's connections terminated mid-request -------------------
@pytest.mark.postgres
@pytest.mark.parametrize("gateway", ["postgresql"], indirect=True)  # only a server has backends
def test_terminated_store_connections_after_the_offer_was_mined_do_not_escrow_twice(
        gateway: Gateway, pg_url: str) -> None:
    """A psql session holds the indexer cursor's row lock; POST /offers is mined, then waits on
    the lock in platform.sync(); the gateway's backends are terminated (a failover); the lock is
    released. The retry with the same key gets the first offer, escrowed once."""
    gw = gateway
    assert gw.platform is not None
    assert gw.platform.sessions.kw["bind"].dialect.name == "postgresql"
    _, token = _receivable(gw.world, _cast(gw), FACE)  # type: ignore[arg-type]
    key = str(uuid.uuid4())
    body = _offer_body(gw, token)
    admin, name = _pg_admin(pg_url)
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    answers: list[Any] = []
    with psycopg.connect(dsn) as holder:
        holder.execute("SELECT * FROM indexer_cursor FOR UPDATE")
        worker = threading.Thread(
            target=lambda: answers.append(gw.api("sup-1").post("/offers", body, idem=key)))
        worker.start()
        deadline = time.monotonic() + 60
        with psycopg.connect(admin, autocommit=True) as watch:
            while not watch.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event_type = "
                    "'Lock' AND pid <> %s", (name, holder.info.backend_pid)).fetchall():
                assert time.monotonic() < deadline, "the offer never waited on the cursor lock"
                assert worker.is_alive(), answers[0].text if answers else "no answer"
                time.sleep(0.05)
            assert len(_offers_on_chain(gw, token)) == 1  # mined before the lock
            watch.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> %s",
                          (name, holder.info.backend_pid))
        holder.rollback()
    worker.join(timeout=120)
    first = answers[0]
    assert first.status_code == 503, first.text
    assert first.json()["code"] == "outcome_pending"
    again = gw.api("sup-1").post("/offers", body, idem=key)
    _assert_offered_once(gw, token, again)


def _offers_on_chain(gw: Gateway, token: int) -> list[int]:
    """Offers from `token` read from the chain itself (the store may be the thing that fails)."""
    assert gw.platform is not None
    client = gw.platform.token(gw.platform.operator_account)
    return [i for i in range(1, client.offer_count() + 1)
            if client.get_offer(i).source_token_id == token]
