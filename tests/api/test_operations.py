"""Operations surface: /healthz, /readyz, request ids on every log line, and /metrics contents."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from sqlalchemy import text

from scf_chain.obs.logs import JsonFormatter, RequestIdFilter
from tests.api.conftest import World


def test_healthz_answers_without_a_key_or_a_chain_call(world: World) -> None:
    r = world.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "alive"}


def test_readyz_is_ready_when_chain_store_and_indexer_are(world: World) -> None:
    world.platform.sync(force=True)
    r = world.client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] is True
    assert all(body[c]["ok"] for c in ("chain", "store", "indexer"))
    assert body["indexer"]["detail"].startswith("0 blocks behind")


def test_readyz_fails_while_the_indexer_lags_beyond_the_threshold(world: World) -> None:
    world.platform.sync(force=True)
    limit = world.platform.settings.ready_max_indexer_lag
    world.platform.chain.mine_blocks(limit + 3)
    r = world.client.get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "not_ready" and body["status"] == 503 and body["ready"] is False
    assert body["chain"]["ok"] and body["store"]["ok"] and not body["indexer"]["ok"]
    assert body["indexer"]["detail"].startswith(f"{limit + 3} blocks behind")
    world.platform.sync(force=True)  # caught up: ready again
    assert world.client.get("/readyz").status_code == 200


def test_readyz_fails_on_a_store_behind_the_migrations(world: World) -> None:
    world.platform.sync(force=True)
    with world.platform.sessions() as s:
        real = s.scalar(text("SELECT version_num FROM alembic_version"))
        s.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        s.commit()
    try:
        body = world.client.get("/readyz").json()
        assert body["ready"] is False and not body["store"]["ok"]
        assert "scf db upgrade" in body["store"]["detail"] and body["chain"]["ok"]
    finally:
        with world.platform.sessions() as s:
            s.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": real})
            s.commit()
    assert world.client.get("/readyz").status_code == 200


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture()
def records() -> "_Records":
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_request_id_comes_back_and_is_on_every_log_line_of_the_request(
        world: World, records: _Records) -> None:
    probe = logging.getLogger("tests.probe")
    if not any(getattr(r, "path", None) == "/_probe" for r in world.client.app.routes):
        def logged() -> dict[str, str]:  # a sync route: it runs in a worker thread
            probe.info("inside the route")
            probe.warning("and once more")
            return {}
        world.client.app.add_api_route("/_probe", logged)

    given = f"trace-{uuid.uuid4().hex[:8]}"
    r = world.client.get("/_probe", headers={"X-Request-ID": given})
    assert r.headers["x-request-id"] == given
    mine = [x for x in records.records if x.name in ("tests.probe", "api.access")]
    assert [x.getMessage() for x in mine][:2] == ["inside the route", "and once more"]
    assert len(mine) == 3 and {x.request_id for x in mine} == {given}  # type: ignore[attr-defined]
    access = JsonFormatter().format(mine[2])
    assert f'"request_id": "{given}"' in access and '"route": "/_probe"' in access
    assert '"status": 200' in access

    # none given, or one unfit for a header or a log: a fresh one
    for headers in ({}, {"X-Request-ID": "x" * 200}, {"X-Request-ID": "a b"}):
        rid = world.client.get("/healthz", headers=headers).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
    # a request refused before any route (unknown key on a protected path) has one too
    refused = world.client.get("/participants/me", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and refused.headers["x-request-id"]


def _sample(text_: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(want)}}} (\S+)$" if labels else \
        rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text_, re.M)
    assert found, f"{name}{{{want}}} not in metrics"
    return float(found.group(1))


def test_metrics_count_requests_by_route_template_and_transactions(world: World) -> None:
    before = world.operator.get("/metrics").text
    sent0 = _sample(before, "scf_transactions_sent_total")
    mined0 = _sample(before, "scf_transactions_mined_total")
    name, _ = world.participant("metrics", ["supplier"], funds=100)  # transactions on chain
    for _ in range(2):
        assert world.operator.get(f"/participants/{name}").status_code == 200
    world.platform.sync(force=True)
    m = world.operator.get("/metrics").text
    # one series per route template, not per participant's path
    assert _sample(m, "scf_http_request_duration_seconds_count", method="GET",
                   route="/participants/{name}", status="2xx") >= 2
    assert f"/participants/{name}" not in m
    assert _sample(m, "scf_transactions_sent_total") > sent0
    assert _sample(m, "scf_transactions_mined_total") > mined0
    assert _sample(m, "scf_receipt_latency_seconds_count") > 0
    assert _sample(m, "scf_indexer_lag_blocks") == 0
    assert _sample(m, "scf_chain_head_block") == world.platform.chain.block_number()
    assert _sample(m, "scf_keeper_actions_total", action="redeem_batch") >= 0
    assert "scf_nonce_gaps_filled_total" in m and "scf_transactions_failed_total" in m
