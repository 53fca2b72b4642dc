#!/usr/bin/env bash
# Copy the web UI's one third-party file (a QR code generator, for two-factor enrolment)
# from the npm registry into the package, pinned by ui/package-lock.json.
#
#   bash scripts/build-ui.sh           # refresh v6lib/server/ui/static/qrcode.mjs
#   bash scripts/build-ui.sh --check   # fail when the committed copy differs (CI)
#
# The result is committed, so installing v6lib needs no Node.js; only this script does.
set -euo pipefail
cd "$(dirname "$0")/../ui"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
source_file="node_modules/qrcode-generator/dist/qrcode.mjs"
target="../v6lib/server/ui/static/qrcode.mjs"
if [ "${1:-}" = "--check" ]; then
    if ! cmp -s "$source_file" "$target"; then
        echo "build-ui: $target differs from the locked qrcode-generator; run scripts/build-ui.sh" >&2
        exit 1
    fi
    echo "build-ui: vendored files match ui/package-lock.json"
else
    cp "$source_file" "$target"
    echo "build-ui: copied $source_file"
fi
