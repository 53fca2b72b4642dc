#!/usr/bin/env bash
# The test command of the README: sets up everything the tests need, then runs them.
#
#   bash scripts/test.sh            # everything: unit, PostgreSQL, Docker, integration
#   bash scripts/test.sh -m "not docker"   # extra arguments go to pytest
#
# As root on Debian/Ubuntu it installs and starts PostgreSQL and a Docker engine, builds
# the algorithm images locally (no registry needed) and installs Debian's Chromium for the
# browser tests (tests/browser, marker "browser"). Elsewhere, start them
# yourself and set V6_TEST_POSTGRES_URL, or deselect with -m "not docker and not postgres".
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(bash scripts/setup-env.sh | tail -n 1)"

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && [ "${V6_SKIP_SERVICES:-0}" != "1" ]; then
    [ -f .ci/postgres.sh ] && bash .ci/postgres.sh
    [ -f .ci/docker.sh ] && bash .ci/docker.sh
    [ -f .ci/images.sh ] && bash .ci/images.sh
    [ -f .ci/chromium.sh ] && bash .ci/chromium.sh
    [ -f .ci/nginx.sh ] && bash .ci/nginx.sh
    [ -f .ci/sshd.sh ] && bash .ci/sshd.sh
fi
if [ -f .ci/postgres.env ] && [ -z "${V6_TEST_POSTGRES_URL:-}" ]; then
    # shellcheck disable=SC1091
    source .ci/postgres.env
    export V6_TEST_POSTGRES_URL
fi

"$python" -m ruff check v6lib tests benchmarks examples
# types: the configuration is [tool.mypy] in pyproject.toml
"$python" -m mypy v6lib
# the web UI's vendored file must be what ui/package-lock.json pins (needs npm)
if command -v npm >/dev/null 2>&1; then
    bash scripts/build-ui.sh --check
fi
# the slowest tests are listed so that the 30-minute CI budget stays visible
exec "$python" -m pytest --durations=25 "$@"
