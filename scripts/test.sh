#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. Extra arguments go to pytest,
# e.g. scripts/test.sh -m "not slow" for the fast unit tests only.
#   scripts/test.sh                  on the lerobot release (0.6.1), in .venv
#   LEROBOT=head scripts/test.sh     on upstream's development head (0.6.2), in .venv-head
# Tests run in parallel processes (pytest-xdist), one torch thread each: up to 4, one per core.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
venv=.venv; [ "${LEROBOT:-release}" = head ] && venv=.venv-head
# nproc reports OMP_NUM_THREADS when it is set: count the cores with it unset.
workers=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 2)
[ "$workers" -gt 4 ] && workers=4
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
parallel=(-n "$workers")
for arg in "$@"; do
  case "$arg" in -n|-n*|--numprocesses*|-p) parallel=() ;; esac
done
echo "== tests on $("$venv/bin/python" -c 'import importlib.metadata as m; print("lerobot", m.version("lerobot"))') ($venv)"
exec "$venv/bin/python" -m pytest -q "${parallel[@]}" "$@"
