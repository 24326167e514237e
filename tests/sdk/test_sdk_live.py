"""scf_chain.sdk against a gateway served over real HTTP: a participant holding its own key in an
encrypted v3 key file anchors evidence in a few lines; what the signer refuses never leaves it."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from scf_chain.sdk import (
    Gateway,
    GatewayError,
    KeyFileSigner,
    PreparedTransactionRefused,
    new_key_file,
)
from tests.live import live_gateway

pytestmark = pytest.mark.xdist_group(__name__)


def test_a_self_signing_anchorer_anchors_evidence_through_the_sdk(tmp_path: Path) -> None:
    with live_gateway("sdk-live") as (base, platform):
        operator = Gateway(base, platform.issue_api_key("operator").token)
        keyfile = tmp_path / "log.json"
        address = new_key_file(keyfile, "pw", iterations=2**10)
        created = operator.post("/participants", {
            "name": "log-x", "display_name": "Logistics", "roles": ["anchorer"],
            "custody": "external", "address": address})
        seller = operator.post("/participants", {"name": "seller-x", "display_name": "Seller",
                                                 "roles": ["supplier"]})
        buyer = operator.post("/participants", {"name": "buyer-x", "display_name": "Buyer",
                                                "roles": ["debtor"]})
        invoice = {"kind": "invoice", "number": f"INV-{uuid.uuid4().hex[:8]}",
                   "seller": seller["participant"]["address"],
                   "buyer": buyer["participant"]["address"], "order_number": "PO-1",
                   "amount": 100, "tax": 0, "issue_date": "2026-09-03"}
        doc = Gateway(base, seller["api_key"]).post("/evidence/documents", invoice)

        seen: list[str] = []
        log = Gateway(base, created["api_key"],
                      KeyFileSigner(keyfile, "pw", chain_id=platform.chain.chain_id()),
                      review=lambda p: seen.append(p.call["function"]) is None)
        batch = log.post("/evidence/batches")  # prepared, reviewed, signed here, submitted
        assert seen == ["anchor"] and batch["count"] == 1 and doc["doc_id"] in batch["doc_ids"]
        seller_api = Gateway(base, seller["api_key"])
        assert seller_api.get(f"/evidence/documents/{doc['doc_id']}")["anchored_tx"] == \
            batch["tx"]["tx_hash"]
        receipt = platform.chain.w3.eth.get_transaction_receipt(batch["tx"]["tx_hash"])
        assert receipt["from"].lower() == address.lower()

        seller_api.post("/evidence/documents", {**invoice, "number": invoice["number"] + "b"})
        # the custodial route for it: the problem, raised as GatewayError with its code
        with pytest.raises(GatewayError) as err:
            Gateway(base, created["api_key"]).post("/evidence/batches")
        assert (err.value.status, err.value.code) == (409, "external_signer_required")
        # a signer for another chain refuses before anything is sent
        wrong = Gateway(base, created["api_key"], KeyFileSigner(keyfile, "pw", chain_id=1))
        with pytest.raises(PreparedTransactionRefused):
            wrong.post("/evidence/batches")
        nonce = platform.chain.w3.eth.get_transaction_count(address)
        assert nonce == 1
        with httpx.Client(base_url=base) as http:  # an SDK client may share an httpx.Client
            assert Gateway(base, created["api_key"], http=http).get("/participants/me")[
                "custody"] == "external"
