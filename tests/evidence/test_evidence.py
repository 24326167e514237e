"""Evidence: Merkle proofs agree with the contract, tampering fails with a reason, documents cross-check."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf_chain.devnet import DevNet
from scf_chain.errors import CrossDocumentMismatch, EvidenceError, TamperedEvidence
from scf_chain.evidence.commit import SaltedDocument
from scf_chain.evidence.crosscheck import check_trade
from scf_chain.evidence.merkle import MerkleTree, leaf_of, verify
from scf_chain.evidence.models import DOC_MIXED, Invoice
from scf_chain.evidence.proofs import (
    Batch,
    EvidenceChainView,
    ProofBundle,
    verify_bundle,
)
from tests.evidence.factories import trade

BUYER = "0x" + "11" * 20
SELLER = "0x" + "22" * 20

pytestmark = pytest.mark.xdist_group(__name__)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=64, unique=True),
       st.data())
def test_python_proofs_verify_on_chain_and_off(devnet_session: DevNet, hashes: list[bytes],
                                               data: st.DataObject) -> None:
    net = devnet_session
    leaves = [leaf_of(h) for h in hashes]
    tree = MerkleTree.build(leaves)
    snap = net.chain.take_snapshot()
    try:
        ev = net.evidence("logistics")
        ev.anchor(tree.root, DOC_MIXED, len(leaves))
        i = data.draw(st.integers(0, len(leaves) - 1))
        proof = tree.proof(i)
        assert verify(leaves[i], proof, tree.root)
        assert ev.verify_leaf(tree.root, leaves[i], proof)
        if proof:  # change one step: both sides refuse
            j = data.draw(st.integers(0, len(proof) - 1))
            bad = list(proof)
            bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
            assert not verify(leaves[i], bad, tree.root)
            assert not ev.verify_leaf(tree.root, leaves[i], bad)
        other = leaf_of(data.draw(st.binary(min_size=32, max_size=32)))
        if other not in leaves:
            assert not ev.verify_leaf(tree.root, other, proof)
    finally:
        net.chain.revert_to_snapshot(snap)


def test_single_leaf_tree_is_its_own_root() -> None:
    leaf = leaf_of(b"\x05" * 32)
    assert MerkleTree.build([leaf]).root == leaf and MerkleTree.build([leaf]).proof(0) == []
    with pytest.raises(EvidenceError):
        MerkleTree.build([])


def _anchored_bundle(net: DevNet, fields: list[str] | None = None) -> tuple[Batch, ProofBundle]:
    docs = [SaltedDocument.create(d) for d in trade(net.address("core"), net.address("supplier-a"))]
    batch = Batch.of(docs)
    batch.anchor(net.evidence("logistics"))
    return batch, batch.bundle(2, net.chain.chain_id(), net.manifest.evidence_registry, fields)


def _view(net: DevNet) -> EvidenceChainView:
    return EvidenceChainView(net.chain.w3, net.manifest.evidence_registry)


def test_bundle_round_trips_through_json_and_verifies(net: DevNet) -> None:
    batch, bundle = _anchored_bundle(net)
    assert batch.doc_type == DOC_MIXED
    again = ProofBundle.model_validate(json.loads(bundle.model_dump_json()))
    result = verify_bundle(again, _view(net))
    assert result.ok, result.reason
    assert result.anchorer == net.address("logistics") and result.disclosed
    assert result.disclosed["number"] == "INV-1"


def test_partial_disclosure_proves_chosen_fields_only(net: DevNet) -> None:
    _, bundle = _anchored_bundle(net, ["amount", "buyer"])
    result = verify_bundle(bundle, _view(net))
    assert result.ok and set(result.disclosed or {}) == {"amount", "buyer"}
    assert "seller" not in bundle.model_dump_json().replace('"seller":"0x', "")  # no value leaked


def _tampered(bundle: ProofBundle, path: str, value: object) -> ProofBundle:
    data = json.loads(bundle.model_dump_json())
    target = data
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return ProofBundle.model_validate(data)


def _flip(h: str) -> str:
    return h[:-1] + ("0" if h[-1] != "0" else "1")


@pytest.mark.parametrize("field", ["number", "amount", "tax", "buyer", "seller", "order_number",
                                   "issue_date", "currency"])
def test_changing_any_field_fails_naming_it(net: DevNet, field: str) -> None:
    _, bundle = _anchored_bundle(net)
    original = bundle.disclosure.disclosed[field].value
    changed = original + 1 if isinstance(original, int) else (
        "0x" + "33" * 20 if str(original).startswith("0x") else str(original) + "X")
    bad = _tampered(bundle, f"disclosure.disclosed.{field}.value", changed)
    result = verify_bundle(bad, _view(net))
    assert not result.ok and f"field {field!r} does not match its commitment" in result.reason


def test_changing_a_salt_commitment_or_proof_step_fails_with_reason(net: DevNet) -> None:
    _, bundle = _anchored_bundle(net)
    salt = bundle.disclosure.disclosed["amount"].salt
    r = verify_bundle(_tampered(bundle, "disclosure.disclosed.amount.salt", _flip(salt)), _view(net))
    assert not r.ok and "'amount' does not match" in r.reason
    c = bundle.disclosure.commitments["tax"]
    r = verify_bundle(_tampered(bundle, "disclosure.commitments.tax", _flip(c)), _view(net))
    assert not r.ok and "does not match its commitment" in r.reason
    r = verify_bundle(_tampered(bundle, "proof.0", _flip(bundle.proof[0])), _view(net))
    assert not r.ok and "proof does not lead" in r.reason
    r = verify_bundle(_tampered(bundle, "root", _flip(bundle.root)), _view(net))
    assert not r.ok


def test_revocation_fails_verification(net: DevNet) -> None:
    batch, bundle = _anchored_bundle(net)
    net.evidence("logistics").revoke_leaf(batch.root, batch.documents[2].leaf)
    r = verify_bundle(bundle, _view(net))
    assert not r.ok and r.reason == "the document was revoked" and r.revoked
    net.evidence("logistics").revoke_root(batch.root)
    assert verify_bundle(bundle, _view(net)).reason == "the root was revoked"


def test_unanchored_root_and_other_chain_fail(net: DevNet) -> None:
    docs = [SaltedDocument.create(d) for d in trade(BUYER, SELLER)]
    bundle = Batch.of(docs).bundle(0, net.chain.chain_id(), net.manifest.evidence_registry)
    assert verify_bundle(bundle, _view(net)).reason == "the root was never anchored in this registry"
    other = bundle.model_copy(update={"chain_id": 1})
    assert "is for chain 1" in verify_bundle(other, _view(net)).reason
    assert verify_bundle(bundle, None).ok  # offline checks alone pass


def test_verify_cli_exit_codes(net: DevNet, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from scf_chain.evidence.verify import main

    _, bundle = _anchored_bundle(net)
    path = tmp_path / "b.json"
    path.write_text(bundle.model_dump_json())
    assert main([str(path)]) == 0
    path.write_text(_tampered(bundle, "proof.0", _flip(bundle.proof[0])).model_dump_json())
    assert main([str(path)]) == 1 and "INVALID" in capsys.readouterr().out
    path.write_text("{}")
    assert main([str(path)]) == 2


def test_disclosure_of_unknown_field_and_salt_mismatch_are_errors() -> None:
    doc = SaltedDocument.create(trade(BUYER, SELLER)[2])
    with pytest.raises(EvidenceError, match="no such field"):
        doc.disclose(["nope"])
    with pytest.raises(EvidenceError):
        SaltedDocument.from_json({"document": doc.fields, "salts": {"number": "0x" + "00" * 32}})
    again = SaltedDocument.from_json(json.loads(json.dumps(doc.to_json())))
    assert again.doc_hash == doc.doc_hash
    d = doc.disclose(["amount"])
    forged = type(d).model_validate({**d.model_dump(), "disclosed": {
        "amount": {"value": 1, "salt": d.disclosed["amount"].salt}}})
    with pytest.raises(TamperedEvidence, match="'amount' does not match"):
        forged.doc_hash()
    assert d.doc_hash() == doc.doc_hash


def test_invoice_key_is_stable_and_salt_free() -> None:
    inv = trade(BUYER, SELLER)[2]
    a, b = SaltedDocument.create(inv), SaltedDocument.create(inv)
    assert a.doc_key == b.doc_key and a.doc_hash != b.doc_hash


# -- cross-document checks -----------------------------------------------------------------------------
def _ok() -> tuple:  # type: ignore[type-arg]
    return trade(BUYER, SELLER)


def test_consistent_documents_pass() -> None:
    order, delivery, invoice = _ok()
    check_trade(invoice, order, delivery, invoice.amount, BUYER, SELLER)


@pytest.mark.parametrize("code,change", [
    ("order_mismatch", lambda o, d, i: (o, d, i.model_copy(update={"order_number": "PO-X"}))),
    ("buyer_mismatch", lambda o, d, i: (o, d, i.model_copy(update={"buyer": "0x" + "33" * 20}))),
    ("seller_mismatch", lambda o, d, i: (o, d, i.model_copy(update={"seller": "0x" + "33" * 20}))),
    ("currency_mismatch", lambda o, d, i: (o, d, i.model_copy(update={"currency": "USD"}))),
    ("invoice_exceeds_order", lambda o, d, i: (o, d, i.model_copy(update={"amount": o.amount + 1}))),
    ("no_delivery", lambda o, d, i: (o, d.model_copy(update={"event": "in_transit"}), i)),
    ("delivered_after_invoice", lambda o, d, i: (o, d, i.model_copy(update={"issue_date": date(2026, 9, 1)}))),
    ("delivery_order_mismatch", lambda o, d, i: (o, d.model_copy(update={"order_number": "PO-Y"}), i)),
])
def test_each_inconsistency_has_its_code(code: str, change) -> None:  # type: ignore[no-untyped-def]
    order, delivery, invoice = change(*_ok())
    with pytest.raises(CrossDocumentMismatch) as info:
        check_trade(invoice, order, delivery, min(invoice.amount, 100))
    assert info.value.code == code


def test_face_value_and_parties_are_checked() -> None:
    order, delivery, invoice = _ok()
    with pytest.raises(CrossDocumentMismatch, match="exceeds the invoice total") as info:
        check_trade(invoice, order, delivery, invoice.amount + invoice.tax + 1)
    assert info.value.code == "face_value_exceeds_invoice"
    with pytest.raises(CrossDocumentMismatch) as info:
        check_trade(invoice, order, delivery, 1, debtor=SELLER)
    assert info.value.code == "debtor_not_buyer"


def test_models_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        Invoice(number="INV 1", seller=SELLER, buyer=BUYER, order_number="PO-1", amount=1,
                issue_date=date(2026, 1, 1))
    with pytest.raises(ValueError):
        Invoice(number="INV-1", seller="0x12", buyer=BUYER, order_number="PO-1", amount=1,
                issue_date=date(2026, 1, 1))
    order, delivery, _ = _ok()
    with pytest.raises(ValueError, match="sum of the lines"):
        order.model_validate({**order.model_dump(), "amount": order.amount + 1})
    with pytest.raises(ValueError, match="signed_by"):
        delivery.model_validate({**delivery.model_dump(), "signed_by": None})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_canonical_json_is_rfc8785(value: object) -> None:
    import rfc8785

    from scf_chain.evidence import canonical

    try:
        expected = rfc8785.dumps(value)
    except Exception:  # e.g. lone surrogates: refused by the reference, so must not pass here
        with pytest.raises(ValueError):
            canonical.dumps(value)
        return
    assert canonical.dumps(value) == expected
