#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: Python venv + package, Node tools (solc, anvil), slither venv.
# Re-running is cheap: each step is skipped while its inputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
want=$(stamp pyproject.toml)
if [ "$(cat .venv/.scf-stamp 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the Python package and dev tools"
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > .venv/.scf-stamp
fi

if [ "${SCF_SKIP_NODE:-0}" != "1" ]; then
  want=$(stamp package-lock.json)
  if [ "$(cat node_modules/.scf-stamp 2>/dev/null)" != "$want" ]; then
    echo "setup: npm ci (solc $(node -p "require('./package.json').dependencies.solc"), anvil)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > node_modules/.scf-stamp
  fi
  # the console's charts, from the pinned npm package, shipped inside the Python package (no CDN)
  vendor=api/console/static/vendor/echarts.min.js
  if ! cmp -s node_modules/echarts/dist/echarts.min.js "$vendor"; then
    echo "setup: copying echarts $(node -p "require('./node_modules/echarts/package.json').version") into the console"
    cp node_modules/echarts/dist/echarts.min.js "$vendor"
  fi
fi

# the console's browser tests drive Debian's Chromium (no browser download), with a Chinese font
# so its screenshots show the zh-CN pages; docs/api.md's test runs its commands with curl and jq
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null &&
   { [ ! -x /usr/bin/chromium ] || [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] ||
     ! command -v jq >/dev/null || ! command -v curl >/dev/null; }; then
  echo "setup: apt-get install chromium fonts-wqy-microhei curl jq (browser and API guide tests)"
  pkgs="chromium fonts-wqy-microhei curl jq"
  apt-get install -y -q $pkgs >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $pkgs >/dev/null; }
fi

if [ "${SCF_WITH_SLITHER:-0}" = "1" ]; then
  # slither pins web3<8, so it lives in its own venv.
  if [ ! -x .venv-slither/bin/slither ]; then
    echo "setup: creating .venv-slither"
    "$PY" -m venv .venv-slither
    .venv-slither/bin/python -m pip install -q --upgrade pip
    .venv-slither/bin/python -m pip install -q "slither-analyzer==0.11.6"
  fi
fi
