#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (run as root). Idempotent and quiet.
# Playwright drives this system browser; no browser is ever downloaded by a test tool.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
/usr/bin/chromium --version
