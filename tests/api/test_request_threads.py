"""A gateway process works on SCF_REQUEST_THREADS requests at once (anyio's default of 40
threads capped a process at 40 writes per block: each write waits in its thread until mined)."""

from __future__ import annotations

import pytest
from anyio import to_thread
from fastapi.testclient import TestClient

from api.main import create_app
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform

pytestmark = pytest.mark.xdist_group(__name__)


def test_the_thread_limit_is_the_setting(embedded_chain: EmbeddedChain, tmp_path) -> None:  # type: ignore[no-untyped-def]
    platform = Platform.open(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/s.db",
                                      request_threads=123), chain=embedded_chain)
    try:
        with TestClient(create_app(platform)) as client:
            assert client.get("/healthz").status_code == 200
            limit = client.portal.call(  # type: ignore[union-attr]
                lambda: to_thread.current_default_thread_limiter().total_tokens)
            assert limit == 123
    finally:
        platform.close()
