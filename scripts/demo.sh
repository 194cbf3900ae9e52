#!/usr/bin/env bash
# Install the runtime on a fresh machine and start the demo: bash scripts/demo.sh [--share] [--port P]
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False PIP_DISABLE_PIP_VERSION_CHECK=1
PYTHON=${PYTHON:-python3}

say() { echo "genre-cam: $*"; }

# pip, showing one line per package it fetches; its whole output only when it fails
pip_install() {
  local log status
  log=$(mktemp)
  set +e
  .venv/bin/python -m pip install --progress-bar off "$@" 2>&1 | tee "$log" \
    | grep --line-buffered -E "^(Collecting|Successfully installed)" | sed -u "s/^/  /"
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    grep -v "^WARNING: Location" "$log" >&2
    rm -f "$log"
    say "installing failed (pip's output above)"
    exit 1
  fi
  rm -f "$log"
}

if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment .venv ..."
  "$PYTHON" -m venv .venv
fi
say "installing the runtime into .venv (the first time about a minute; one line per package) ..."
pip_install --upgrade pip
pip_install -r requirements.txt
say "runtime ready; starting the app"
exec .venv/bin/python -m app "$@"
