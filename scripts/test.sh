#!/usr/bin/env bash
# README's test command: set up everything a fresh clone needs, then run every test.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/chain -x).
set -euo pipefail
cd "$(dirname "$0")/.."
SCF_WITH_SLITHER=1 bash scripts/setup.sh

# PostgreSQL is where the suite checks the store (SQLite is tested too); default: the local server.
export SCF_TEST_DATABASE_URL=${SCF_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/scf_test}
export PYTHONHASHSEED=0
# Two workers. A module marked xdist_group(__name__) runs whole on one worker (its module-scoped
# platform is built once), modules spread over both; a group shared by many modules would put
# them all on one worker, which then finishes last.
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
