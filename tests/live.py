"""A gateway served over real HTTP (uvicorn in a thread) on a fresh embedded chain and store, with
its indexer and keeper running: for tests that drive it as a browser or a shell would."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from api.main import create_app
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_gateway(name: str, start_timeout_s: float = 120) -> Iterator[tuple[str, Platform]]:
    """(base URL, platform); stopped and its chain closed on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        settings = Settings(data_dir=d, database_url=f"sqlite:///{d}/scf.db",
                            keystore_path=d / "keys", document_store_path=d / "documents",
                            keystore_scrypt_n=2**10)
        chain = EmbeddedChain()
        platform = Platform.open(settings, chain=chain)
        app = create_app(platform, background=True, index_interval_s=0.2,
                         keeper=platform.keeper())
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, name=name, daemon=True)
        thread.start()
        deadline = time.monotonic() + start_timeout_s
        try:
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, \
                    "the gateway did not start"
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}", platform
        finally:
            server.should_exit = True
            thread.join(timeout=60)
            platform.close()
            chain.close()
