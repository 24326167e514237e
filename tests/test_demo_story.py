"""The demo story end to end through HTTP, with the keeper in the background: every amount checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform
from scripts.demo_story import run_story

pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture()
def served(embedded_chain: EmbeddedChain) -> Iterator[tuple[TestClient, str]]:
    platform = Platform.open(Settings(), chain=embedded_chain)
    app = create_app(platform, background=True, index_interval_s=0.2,
                     keeper=platform.keeper())
    try:
        with TestClient(app) as client:
            yield client, platform.issue_api_key("operator").token
    finally:
        platform.close()


def test_demo_story_pays_every_holder_and_reconciles(served: tuple[TestClient, str]) -> None:
    client, operator_key = served
    lines: list[str] = []
    story = run_story(client, operator_key, lines.append)
    # A keeps 1,000,000 − 300,000 − 200,000; B 300,000 − 100,000; C 100,000; the bank 200,000.
    assert story.paid == {"supplier-a": 500_000_00, "supplier-b": 200_000_00,
                          "supplier-c": 100_000_00, "bank": 200_000_00}
    assert story.reconcile["clean"] and story.reconcile["differences"] == []
    trace = story.trace
    assert trace["repaid"] == trace["paid_out"] == "100000000"
    assert trace["evidence"]["verified"] is True and trace["evidence"]["anchored"] is True
    [financing] = trace["financings"]
    assert (financing["value"], financing["price"]) == ("20000000", "19600000")
    assert {n["token_id"] for n in trace["lineage"]} >= {str(t) for t in story.tokens.values()}
    repayments = [f for f in story.flows if f["kind"] == "repayment"]
    assert sum(int(f["amount"]) for f in repayments) == 100_000_000
    assert any("settled" in line for line in lines)
    # the bank signed its approval and its acceptance itself, through scf_chain.sdk
    me = client.get("/participants/me", headers={"Authorization": f"Bearer {story.keys['bank']}"})
    assert me.json()["custody"] == "external"
    assert sum("the bank signed with its own key" in line for line in lines) == 2
