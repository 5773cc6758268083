#!/usr/bin/env bash
# Create .venv with Python 3.12 and install lerobot-ext, the flow policy plugin and the test
# tools. Idempotent: re-installs only when a pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in "${PYTHON:-}" python3.12 "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/3.12"*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  PY=$(find_python) || { echo "lerobot-ext needs Python 3.12 (lerobot 0.6 requires it); set PYTHON=/path/to/python3.12" >&2; exit 1; }
  echo "creating .venv with $PY"
  "$PY" -m venv .venv
fi

stamp=.venv/.lerobot-ext-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ plugins/lerobot_policy_flow/pyproject.toml -nt "$stamp" ]; then
  echo "installing lerobot-ext and its plugins into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]" -e plugins/lerobot_policy_flow
  touch "$stamp"
fi
