#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. Extra arguments go to pytest,
# e.g. scripts/test.sh -m "not slow" for the fast unit tests only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled
exec .venv/bin/python -m pytest -q "$@"
