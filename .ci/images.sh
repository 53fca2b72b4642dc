#!/usr/bin/env bash
# Build, without any image registry, the Docker images the test suite and demos use.
#
#   v6lib-python:3.11   Debian bookworm minbase + python3, python3-venv, ca-certificates
#                       (debootstrap; skipped when the image already exists locally)
#   v6lib-deps:<hash>   + venv /opt/v6 with v6lib's core dependencies, installed offline
#                       from wheels downloaded on the host (skipped when it exists)
#   v6lib-base:latest   + v6lib itself (rebuilt every time: it is the code under test)
#   v6-probe:latest     tiny test image: runs the Python source in $V6_PROBE
#   v6-average:latest   examples/average/Dockerfile (when the example exists)
#
# Containers cannot reach a package index, so wheels are fetched on the host into
# .ci/wheels (for CPython 3.11, manylinux x86_64; see v6lib/image/wheelhouse.py for the
# platform tags) and installed with --no-index.
# Needs a running engine (.ci/docker.sh) and network access to Debian and PyPI mirrors.
# Usage:  bash .ci/images.sh           V6_IMAGES_REBUILD=1 forces every step.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WHEELS="$HERE/wheels"
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)"
PY_IMAGE="v6lib-python:3.11"
BASE_IMAGE="v6lib-base:latest"
PROBE_IMAGE="v6-probe:latest"
AVERAGE_IMAGE="v6-average:latest"
SUITE="${V6_DEBIAN_SUITE:-bookworm}"
MIRROR="${V6_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
REBUILD="${V6_IMAGES_REBUILD:-0}"

die() { echo "images.sh: $*" >&2; exit 1; }
have_image() { [ "$REBUILD" != 1 ] && "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# Host Python with pip, used only to download wheels and build the v6lib wheel.
if [ -n "${V6_PYTHON:-}" ]; then PY="$V6_PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"
else PY="$(command -v python3)"; fi

T_ALL=$SECONDS
step_start() { T_STEP=$SECONDS; STEP="$1"; }
step_end() { printf 'images.sh: %-34s %4ss\n' "$STEP" $((SECONDS - T_STEP)); }

"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers; run .ci/docker.sh first"
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap needs it)"

# --- (a) Python base image from debootstrap -------------------------------------------
step_start "$PY_IMAGE"
if ! have_image "$PY_IMAGE"; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing; run .ci/docker.sh"
    ROOTFS="$(mktemp -d /var/tmp/v6-rootfs.XXXXXX)"
    trap 'rm -rf "$ROOTFS"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$ROOTFS" "$MIRROR" > /tmp/v6-debootstrap.log 2>&1 \
        || { tail -n 20 /tmp/v6-debootstrap.log >&2; die "debootstrap failed (log above)"; }
    # Nothing the image needs at run time: package caches, docs, man pages, locales.
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
        "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
        "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/cache/debconf/*-old
    tar --numeric-owner -C "$ROOTFS" -c . | "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' - "$PY_IMAGE" >/dev/null
    rm -rf "$ROOTFS"
    trap - EXIT
fi
step_end

# --- (b) wheels: v6lib's core dependencies + v6lib itself -----------------------------
step_start "wheels (.ci/wheels)"
mkdir -p "$WHEELS/deps" "$WHEELS/v6lib"
# Each core dependency is pinned to the version installed for $PY (the test interpreter):
# the parity tests compare results computed in the images with results computed here,
# and pandas gives other dtypes across versions. Not installed there: the spec as written.
# (v6lib.image is what `v6 algorithm build` pins and downloads with, too.)
V6IMAGE=(env PYTHONPATH="$ROOT" "$PY" -m v6lib.image)
mapfile -t DEPS < <("${V6IMAGE[@]}" pins "$ROOT/pyproject.toml")
[ "${#DEPS[@]}" -gt 0 ] || die "no [project] dependencies found in pyproject.toml"
# Pure-Python build tools, so algorithm Dockerfiles can `pip install --no-index
# --no-build-isolation .` their own package offline (no compilers in the image).
DEPS+=("setuptools>=68" "wheel")
PIPLOG=/tmp/v6-images-pip.log
STAMP="$WHEELS/deps/.requirements"
: > "$PIPLOG"
if [ "$REBUILD" = 1 ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$(printf '%s\n' "${DEPS[@]}")" ]; then
    "${V6IMAGE[@]}" download "$WHEELS/deps" "${DEPS[@]}" > "$PIPLOG" 2>&1 \
        || { tail -n 20 "$PIPLOG" >&2; die "pip download of the core dependencies failed"; }
    printf '%s\n' "${DEPS[@]}" > "$STAMP"
fi
rm -f "$WHEELS"/v6lib/*.whl
# The build backend (setuptools, wheel) comes from the wheels just downloaded.
"$PY" -m pip wheel --disable-pip-version-check --no-deps --no-index \
    --find-links "$WHEELS/deps" --wheel-dir "$WHEELS/v6lib" "$ROOT" >> "$PIPLOG" 2>&1 \
    || "$PY" -m pip wheel --disable-pip-version-check --no-deps \
        --wheel-dir "$WHEELS/v6lib" "$ROOT" >> "$PIPLOG" 2>&1 \
    || { tail -n 20 "$PIPLOG" >&2; die "could not build the v6lib wheel"; }
rm -rf "$ROOT/build"
step_end

# --- (c1) dependency layer: a venv with the core deps, offline, one layer -------------
step_start "v6lib-deps"
DEPS_TAG="$( { "$DOCKER" image inspect -f '{{.Id}}' "$PY_IMAGE"; ls "$WHEELS/deps"; \
    printf '%s\n' "${DEPS[@]}"; } | sha256sum | cut -c1-12)"
DEPS_IMAGE="v6lib-deps:$DEPS_TAG"
if ! have_image "$DEPS_IMAGE"; then
    NAME="v6-build-deps-$$"
    "$DOCKER" rm -f "$NAME" >/dev/null 2>&1 || true
    # Installed by `docker run` + `commit` so the wheels never land in an image layer.
    "$DOCKER" run --name "$NAME" --network none -v "$WHEELS/deps:/wheels:ro" "$PY_IMAGE" \
        sh -ec 'python3 -m venv /opt/v6
                /opt/v6/bin/pip install --quiet --no-index --find-links /wheels \
                    --disable-pip-version-check "$@"
                find /opt/v6 -name "tests" -path "*/site-packages/*/tests" -prune \
                    -exec rm -rf {} +
                rm -rf /root/.cache' sh "${DEPS[@]}" \
        || { "$DOCKER" rm -f "$NAME" >/dev/null 2>&1; die "offline install of the deps failed"; }
    "$DOCKER" commit --change 'ENV PATH=/opt/v6/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV VIRTUAL_ENV=/opt/v6' --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
        --change 'CMD ["python3", "-m", "v6lib.wrappers"]' \
        "$NAME" "$DEPS_IMAGE" >/dev/null
    "$DOCKER" rm -f "$NAME" >/dev/null
fi
step_end

# --- (c2) v6lib-base: the deps image + the local v6lib wheel --------------------------
step_start "$BASE_IMAGE"
"$DOCKER" build --quiet --force-rm -t "$BASE_IMAGE" -f - "$WHEELS/v6lib" >/dev/null <<DOCKERFILE \
    || die "docker build of $BASE_IMAGE failed"
FROM $DEPS_IMAGE
COPY *.whl /tmp/
RUN /opt/v6/bin/pip install --quiet --no-index --no-deps --disable-pip-version-check /tmp/*.whl \
    && rm -f /tmp/*.whl && /opt/v6/bin/python -c "import v6lib"
LABEL org.opencontainers.image.title="v6lib-base"
DOCKERFILE
step_end

# --- (d) test image and the example algorithm image -----------------------------------
step_start "$PROBE_IMAGE"
"$DOCKER" build --quiet --force-rm -t "$PROBE_IMAGE" - >/dev/null <<DOCKERFILE \
    || die "docker build of $PROBE_IMAGE failed"
FROM $PY_IMAGE
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
CMD ["python3", "-c", "import os; exec(os.environ.get('V6_PROBE', 'print(42)'))"]
DOCKERFILE
step_end

step_start "$AVERAGE_IMAGE"
if [ -f "$ROOT/examples/average/Dockerfile" ]; then
    "$DOCKER" build --quiet --force-rm -t "$AVERAGE_IMAGE" "$ROOT/examples/average" >/dev/null \
        || die "docker build of $AVERAGE_IMAGE (examples/average/Dockerfile) failed"
    step_end
else
    echo "images.sh: examples/average/Dockerfile missing; $AVERAGE_IMAGE not built" >&2
fi

# Old dependency layers of earlier runs only take disk space.
for old in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' v6lib-deps); do
    [ "$old" = "$DEPS_IMAGE" ] || "$DOCKER" rmi "$old" >/dev/null 2>&1 || true
done
"$DOCKER" image prune --force >/dev/null 2>&1 || true
printf 'images.sh: %-34s %4ss\n' "total" $((SECONDS - T_ALL))
