#!/usr/bin/env bash
# Copy the web UI's third-party files from the npm registry into the package, pinned by
# ui/package-lock.json:
#
#   qrcode.mjs  qrcode-generator's ES module (QR codes for two-factor enrolment), as is;
#   arrow.mjs   apache-arrow's single-file browser bundle (Arrow.esnext.min.js, reads the
#               Arrow IPC streams that carry DataFrames and Series in results), unchanged
#               between a two-line head and tail that make it an ES module: the bundle is
#               UMD and would otherwise set a global; its multi-file ES build imports bare
#               package names, which a browser cannot resolve without an inline import map.
#
#   bash scripts/build-ui.sh           # refresh the files in v6lib/server/ui/static/
#   bash scripts/build-ui.sh --check   # fail when a committed copy differs (CI)
#
# The results are committed, so installing v6lib needs no Node.js; only this script does.
set -euo pipefail
cd "$(dirname "$0")/../ui"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
static="../v6lib/server/ui/static"
built="$(mktemp -d)"
trap 'rm -rf "$built"' EXIT

cp node_modules/qrcode-generator/dist/qrcode.mjs "$built/qrcode.mjs"
arrow_version="$(node -p 'JSON.parse(require("fs").readFileSync("node_modules/apache-arrow/package.json")).version')"
{
    printf '// apache-arrow %s (Apache-2.0), Arrow.esnext.min.js wrapped as an ES module by scripts/build-ui.sh\n' \
        "$arrow_version"
    printf 'const scope = {};\n(function () {\n'
    cat node_modules/apache-arrow/Arrow.esnext.min.js
    printf '\n}).call(scope);\nexport default scope.Arrow;\n'
} > "$built/arrow.mjs"

status=0
for name in qrcode.mjs arrow.mjs; do
    if [ "${1:-}" = "--check" ]; then
        if ! cmp -s "$built/$name" "$static/$name"; then
            echo "build-ui: $static/$name differs from ui/package-lock.json; run scripts/build-ui.sh" >&2
            status=1
        fi
    else
        cp "$built/$name" "$static/$name"
        echo "build-ui: wrote $static/$name ($(wc -c < "$static/$name") bytes)"
    fi
done
if [ "${1:-}" = "--check" ] && [ "$status" -eq 0 ]; then
    echo "build-ui: vendored files match ui/package-lock.json"
fi
exit "$status"
