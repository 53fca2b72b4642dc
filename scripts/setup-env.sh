#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install v6lib into it.
# Usage: source-free; prints the venv's python path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
extras="${V6_EXTRAS:-dev}"
stamp=".venv/.v6lib-installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$extras]"
    touch "$stamp"
fi
echo "$PWD/.venv/bin/python"
