"""Participants' signing keys never reach the platform's service keys (keeper, operator, deployer)."""

from __future__ import annotations

import time

import pytest

from scf_chain.db.models import GatewayParticipant
from tests.api.conftest import World

pytestmark = pytest.mark.xdist_group(__name__)


@pytest.mark.parametrize("name", ["keeper", "operator", "deployer"])
def test_a_reserved_name_is_refused_with_422(world: World, name: str) -> None:
    keys = world.platform.keys
    if "keeper" not in keys.names():
        keys.create("keeper")  # as `Platform.keeper()` or `scf keeper --key keeper` would
    service = keys.address_of("keeper")
    r = world.operator.post("/participants", {"name": name, "display_name": "X",
                                              "roles": ["supplier"]})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "reserved_name"
    assert keys.address_of("keeper") == service and "@" + name not in keys.names()


def test_a_participant_named_like_a_service_key_gets_a_key_of_its_own(world: World) -> None:
    """Issue 10, item 7: a keystore key without a participant row was taken over."""
    keys = world.platform.keys
    service = keys.create("treasury-ops")  # a service key, e.g. `scf deploy --key treasury-ops`
    r = world.operator.post("/participants", {"name": "treasury-ops", "display_name": "T",
                                              "roles": ["supplier"]})
    assert r.status_code == 201, r.text
    assert r.json()["participant"]["address"].lower() != service.lower()
    assert keys.address_of("treasury-ops") == service  # untouched
    p = world.platform.participant("treasury-ops")
    assert p.key_name == "@treasury-ops"
    assert world.platform.account(p).address.lower() == p.address.lower()


def test_participants_made_before_namespaces_have_their_keys_moved(world: World) -> None:
    """A store from before: participant rows name keys among the service keys (one of them
    `keeper`, which had taken the keeper's key). Opening moves them; addresses stay."""
    platform, keys = world.platform, world.platform.keys
    old = {}
    for name in ("legacy-sup", "keeper"):
        if name in keys.names():
            keys.delete(name)
        old[name] = keys.create(name)
    with platform.sessions() as s:
        for name, address in old.items():
            s.add(GatewayParticipant(name=name, address=address.lower(), roles=4, key_name=name,
                                     display_name=name, created_at=int(time.time())))
        s.commit()
    try:
        platform._namespace_participant_keys()
        platform._namespace_participant_keys()  # again: nothing left to move
        for name, address in old.items():
            p = platform.participant(name)
            assert p.key_name == "@" + name and p.address == address.lower()
            assert platform.account(p).address == address
            assert name not in keys.names()
        # the keeper service makes itself a new key, which no participant holds
        assert keys.create("keeper") != old["keeper"]
    finally:
        with platform.sessions() as s:
            for name in old:
                row = s.get(GatewayParticipant, name)
                if row is not None:
                    s.delete(row)
            s.commit()
