"""API keys remembered by a gateway process (SCF_AUTH_CACHE_S): a key revoked, or roles
changed, through this process take effect on the next request; through another process sharing
the store, within the remembered time; a refused key is never remembered."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from scf_chain.clients import Role
from scf_chain.db.models import GatewayParticipant
from scf_chain.platform.apikeys import revoke_key
from tests.api.conftest import World

pytestmark = pytest.mark.xdist_group(__name__)

TTL_S = 0.5


@pytest.fixture
def short_memory(world: World) -> Iterator[World]:
    auth = world.platform.authenticator
    saved = auth.ttl_s
    auth.ttl_s = TTL_S
    auth.forget()
    try:
        yield world
    finally:
        auth.ttl_s = saved
        auth.forget()


def _answered(api_get: object, path: str, status: int, within_s: float) -> float:
    """Seconds until GET `path` answers `status` (fails after `within_s` and a margin)."""
    started = time.monotonic()
    while True:
        r = api_get(path)  # type: ignore[operator]
        if r.status_code == status:
            return time.monotonic() - started
        assert time.monotonic() - started < within_s + 5, r.text
        time.sleep(0.05)


def test_a_key_revoked_here_is_refused_on_the_next_request(short_memory: World) -> None:
    world = short_memory
    name, api = world.participant("cache-sup", ["supplier"])
    assert api.get("/participants/me").status_code == 200  # remembered now
    key_id = api.key.split("_")[1]  # type: ignore[union-attr]
    r = world.operator.delete(f"/participants/{name}/api-keys/{key_id}")
    assert r.status_code == 200, r.text
    r = api.get("/participants/me")
    assert r.status_code == 401, r.text


def test_a_key_revoked_by_another_process_is_refused_within_the_remembered_time(
        short_memory: World) -> None:
    world = short_memory
    name, api = world.participant("cache-sup", ["supplier"])
    assert api.get("/participants/me").status_code == 200
    # another gateway process revokes it: the store changes, this process is not told
    with world.platform.sessions() as s:
        assert revoke_key(s, api.key.split("_")[1])  # type: ignore[union-attr]
        s.commit()
    _answered(api.get, "/participants/me", 401, TTL_S)
    # and a refused key stays refused: nothing about it was remembered
    for _ in range(3):
        assert api.get("/participants/me").status_code == 401


def test_roles_changed_by_another_process_apply_within_the_remembered_time(
        short_memory: World) -> None:
    world = short_memory
    name, api = world.participant("cache-aud", ["auditor"])
    assert api.get("/participants/me").json()["roles"] == ["auditor"]
    with world.platform.sessions() as s:
        row = s.get(GatewayParticipant, name)
        assert row is not None
        row.roles = int(Role.SUPPLIER)
        s.commit()
    started = time.monotonic()
    while api.get("/participants/me").json()["roles"] != ["supplier"]:
        assert time.monotonic() - started < TTL_S + 5
        time.sleep(0.05)


def test_without_memory_every_request_asks_the_store(short_memory: World) -> None:
    world = short_memory
    world.platform.authenticator.ttl_s = 0
    _, api = world.participant("cache-sup", ["supplier"])
    assert api.get("/participants/me").status_code == 200
    assert world.platform.authenticator.cached(api.key or "") is None
