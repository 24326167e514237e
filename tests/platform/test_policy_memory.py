"""The risk policy remembered by a gateway process (SCF_POLICY_CACHE_S): a change made through
this process applies at once; one made through another process sharing the store (a new row
there), within the remembered time; a change is always merged onto the policy in the store,
never onto a remembered older one."""

from __future__ import annotations

import time

import pytest

from scf_chain.db.models import RiskPolicyVersion
from scf_chain.platform.core import Platform
from scf_chain.risk import gates
from scf_chain.risk.gates import RiskPolicy

pytestmark = pytest.mark.xdist_group(__name__)


def _elsewhere(platform: Platform, **changes: object) -> int:
    """What another gateway process's change leaves in the shared store: a new version row."""
    merged = {**gates.current(platform, fresh=True).policy.model_dump(), **changes}
    with platform.sessions() as s, s.begin():
        row = RiskPolicyVersion(policy=RiskPolicy.model_validate(merged).model_dump(),
                                changed_by="operator", changed_at=int(time.time()),
                                reason="another process")
        s.add(row)
        s.flush()
        return row.id


def test_a_change_here_applies_at_once_and_one_elsewhere_within_the_remembered_time(
        platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform.settings, "policy_cache_s", 0.5)
    here = gates.change(platform, {"rate_ceiling": "block"}, "operator", "here")
    assert gates.current(platform) == here  # at once, no store read needed

    version = _elsewhere(platform, debtor_exposure="block")
    remembered = gates.current(platform)
    assert remembered.version == here.version  # still the remembered one ...
    assert gates.current(platform, fresh=True).version == version  # ... the store has more
    deadline = time.monotonic() + 10
    while gates.current(platform).version != version:  # ... and it applies within the TTL
        assert time.monotonic() < deadline, "another process's change never applied"
        time.sleep(0.05)
    assert gates.current(platform).policy.debtor_exposure == "block"


def test_a_change_merges_onto_the_stored_policy_not_a_remembered_one(
        platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform.settings, "policy_cache_s", 60)
    gates.change(platform, {"evidence_consistency": "flag", "min_grade": "off"}, "operator", None)
    assert gates.current(platform).policy.evidence_consistency == "flag"  # remembered now
    _elsewhere(platform, evidence_consistency="block")
    mine = gates.change(platform, {"min_grade": "flag", "min_grade_value": "C"}, "operator",
                        "here, after another process's change")
    # another process's evidence_consistency survives the merge, and is in force here at once
    assert mine.policy.evidence_consistency == "block" and mine.policy.min_grade == "flag"
    assert gates.current(platform) == mine


def test_no_memory_reads_the_store_at_every_gate(platform: Platform,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform.settings, "policy_cache_s", 0)
    gates.current(platform)
    version = _elsewhere(platform, rate_ceiling="off")
    assert gates.current(platform).version == version
