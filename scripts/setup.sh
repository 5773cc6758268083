#!/usr/bin/env bash
# Create a Python 3.12 virtual environment and install lerobot-ext, its plugins (the flow policy,
# the SO-101 pick-and-place simulator) and the test tools into it. Idempotent: re-installs only
# when a pyproject.toml changed.
#
#   scripts/setup.sh                 .venv       lerobot release from PyPI (0.6.1)
#   LEROBOT=head scripts/setup.sh    .venv-head  upstream's development head (0.6.2, 7427f318)
#
# The head is a wheel built from upstream's commit (shared/upstream/lerobot-head-*/); set
# LEROBOT_HEAD_WHEEL=/path/to/lerobot-*.whl if it is somewhere else. Packages are installed with
# uv (itself installed from PyPI into the venv); LEROBOT_EXT_INSTALLER=pip installs with pip instead.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in "${PYTHON:-}" python3.12 "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/3.12"*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' >/dev/null 2>&1; then
      # pyenv shims resolve lazily; hand out the interpreter itself.
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

head_wheel() {
  if [ -n "${LEROBOT_HEAD_WHEEL:-}" ]; then echo "$LEROBOT_HEAD_WHEEL"; return 0; fi
  local top; top=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
  for dir in "$top/../shared/upstream" "$top/../../shared/upstream" /work/shared/upstream; do
    for wheel in "$dir"/lerobot-head-*/lerobot-*.whl; do
      [ -f "$wheel" ] && { realpath "$wheel"; return 0; }
    done
  done
  return 1
}

case "${LEROBOT:-release}" in
  release) venv=.venv; lerobot_requirement="" ;;
  head)
    venv=.venv-head
    wheel=$(head_wheel) || { echo "LEROBOT=head: no lerobot head wheel found (looked in ../shared/upstream/lerobot-head-*/); set LEROBOT_HEAD_WHEEL=/path/to/lerobot-0.6.2-py3-none-any.whl" >&2; exit 1; }
    lerobot_requirement="lerobot[training,diffusion] @ file://$wheel" ;;
  *) echo "LEROBOT=${LEROBOT} is not one of: release, head" >&2; exit 1 ;;
esac

installer=${LEROBOT_EXT_INSTALLER:-uv}
case "$installer" in
  uv|pip) ;;
  *) echo "LEROBOT_EXT_INSTALLER=${installer} is not one of: uv, pip" >&2; exit 1 ;;
esac

if [ ! -x "$venv/bin/python" ]; then
  PY=$(find_python) || { echo "lerobot-ext needs Python 3.12 (lerobot 0.6 requires it); set PYTHON=/path/to/python3.12" >&2; exit 1; }
  echo "creating $venv with $PY"
  "$PY" -m venv "$venv"
fi

stamp="$venv/.lerobot-ext-installed"
# What the stamp records: the lerobot asked for, and how it was installed. "compiled" was added
# with --compile-bytecode, so that a venv uv installed without .pyc files is installed again
# (uv then compiles the whole of site-packages).
installed="$lerobot_requirement compiled"
changed=""
for project in pyproject.toml plugins/*/pyproject.toml; do
  [ "$project" -nt "$stamp" ] && changed=1
done
if [ ! -f "$stamp" ] || [ -n "$changed" ] || [ "$(cat "$stamp")" != "$installed" ]; then
  echo "installing lerobot-ext and its plugins into $venv (first time: a minute or two with uv)"
  packages=(${lerobot_requirement:+"$lerobot_requirement"} -e ".[test,sim]" -e plugins/lerobot_policy_flow
    -e plugins/lerobot_env_so101_pickplace)
  # uv (from PyPI, into the venv) downloads in parallel and links the second venv's torch and
  # CUDA wheels (~5 GB) from its cache instead of unpacking them again; pip is the fallback.
  # --compile-bytecode: pip writes .pyc files at install, uv does not by default. Where
  # PYTHONDONTWRITEBYTECODE is set (our machines set it) nothing writes them later, and every
  # process would compile torch and lerobot from source again: 34 s per `import lerobot` here.
  if [ "$installer" = uv ] && "$venv/bin/python" -m pip install --quiet uv \
    && "$venv/bin/python" -m uv pip install --quiet --compile-bytecode --python "$venv/bin/python" "${packages[@]}"; then
    :
  else
    [ "$installer" = uv ] && echo "uv could not install them: installing with pip" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "${packages[@]}"
  fi
  echo "$installed" > "$stamp"
fi
