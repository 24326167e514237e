#!/usr/bin/env bash
# README's demo command: set up, then run the whole receivable story on the embedded chain
# through the HTTP API, as a client would.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
