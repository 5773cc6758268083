#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. Extra arguments go to pytest,
# e.g. scripts/test.sh -m "not slow" for the fast unit tests only.
#   scripts/test.sh                  on the lerobot release (0.6.1), in .venv
#   LEROBOT=head scripts/test.sh     on upstream's development head (0.6.2), in .venv-head
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
venv=.venv; [ "${LEROBOT:-release}" = head ] && venv=.venv-head
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled
echo "== tests on $("$venv/bin/python" -c 'import importlib.metadata as m; print("lerobot", m.version("lerobot"))') ($venv)"
exec "$venv/bin/python" -m pytest -q "$@"
