#!/usr/bin/env bash
# The main job of the README: a demo federation (server + 3 nodes) on an embedded SQLite.
#   bash scripts/demo.sh [--keep] [--runtime docker]
set -euo pipefail
cd "$(dirname "$0")/.."
V6_EXTRAS=all bash scripts/setup-env.sh >/dev/null
exec .venv/bin/v6 demo "$@"
