"""README's demo: the receivable story on the embedded chain, through the HTTP API as a client would.

Starts the gateway (embedded chain, SQLite store, indexer and keeper beside it) on a free local
port, then drives it with plain HTTP: anchor the order, its delivery and the invoice; CoreCo
confirms 1,000,000.00; A splits 300,000 to B, who splits 100,000 to C; A finances 200,000 with the
bank; maturity passes; the keeper repays every holder; the auditor's lineage, flows and
reconciliation are printed. Exits non-zero if any amount is off.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
import uvicorn

from api.main import create_app
from scf_chain.config import Settings
from scf_chain.platform.core import Platform
from scripts.demo_story import StoryError, run_story, yuan

EXPECTED = {"supplier-a": 500_000_00, "supplier-b": 200_000_00, "supplier-c": 100_000_00,
            "bank": 200_000_00}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    # SCF_CHAIN_BACKEND=anvil or ganache runs the same story on a node the gateway starts
    backend = os.environ.get("SCF_CHAIN_BACKEND") or "embedded"
    print(f"Starting the gateway on the {backend} chain (contracts deployed at start)...")
    platform = Platform.open(Settings(chain_backend=backend))
    operator_key = platform.issue_api_key("operator").token
    app = create_app(platform, background=True, index_interval_s=0.3, keeper=platform.keeper())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                print("the gateway did not start", file=sys.stderr)
                return 1
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        print(f"Gateway: {base} (OpenAPI at {base}/docs)\n")
        with httpx.Client(base_url=base, timeout=60) as http:
            story = run_story(http, operator_key, print, tag="demo")
        print("\n== Paid to each holder at maturity")
        for who in EXPECTED:
            print(f"   {who:<11} {yuan(story.paid.get(who, 0)):>14}")
        if story.paid != EXPECTED:
            print(f"demo: FAILED, paid {story.paid}, expected {EXPECTED}")
            return 1
        print("demo: OK")
        if "--serve" in sys.argv:  # keep serving: open the console as any participant
            print(f"\nConsole: {base}/console (sign in with a key; Ctrl-C stops)")
            for who, key in story.keys.items():
                print(f"   {who:<11} {key}")
            try:
                while thread.is_alive():
                    thread.join(timeout=1)
            except KeyboardInterrupt:
                pass
        return 0
    except StoryError as exc:
        print(f"demo: FAILED: {exc}")
        return 1
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        platform.close()


if __name__ == "__main__":
    sys.exit(main())
