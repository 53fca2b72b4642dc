#!/usr/bin/env bash
# Make a Docker engine available for the test suite (Debian bookworm, run as root).
#
# Idempotent and quiet: installs docker.io and debootstrap when missing, starts dockerd in
# the background when no engine answers (overlay2 first, vfs when overlay2 cannot start),
# and waits for `docker info` with a deadline. Exits non-zero with a message on failure.
# Usage:  bash .ci/docker.sh            (log of the engine: /tmp/dockerd.log)
set -euo pipefail

LOG="${V6_DOCKERD_LOG:-/tmp/dockerd.log}"
DEADLINE="${V6_DOCKERD_DEADLINE:-60}"

die() { echo "docker.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts dockerd)"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
fi

# The distribution's client matches the distribution's engine; prefer it over any other.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)" || die "no docker client after install"

engine_up() { "$DOCKER" info >/dev/null 2>&1; }

wait_engine() {  # $1 = pid of the dockerd we started; 0 when the engine answers
    local pid="$1" end=$((SECONDS + DEADLINE))
    while [ "$SECONDS" -lt "$end" ]; do
        engine_up && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.3
    done
    return 1
}

start_dockerd() {  # $1 = storage driver
    echo "--- dockerd --storage-driver=$1 ($(date -u +%FT%TZ))" >> "$LOG"
    # setsid: the engine must outlive this script and the CI step that ran it.
    setsid dockerd --storage-driver="$1" >> "$LOG" 2>&1 < /dev/null &
    echo $!
}

if engine_up; then
    exit 0
fi
if pgrep -x dockerd >/dev/null 2>&1; then
    # Started by an earlier call and still coming up: give it the deadline.
    end=$((SECONDS + DEADLINE))
    while [ "$SECONDS" -lt "$end" ]; do engine_up && exit 0; sleep 0.3; done
    die "dockerd is running but does not answer 'docker info' after ${DEADLINE}s; see $LOG"
fi

for driver in overlay2 vfs; do
    pid="$(start_dockerd "$driver")"
    if wait_engine "$pid"; then
        [ "$driver" = overlay2 ] || echo "docker.sh: overlay2 unavailable, using vfs" >&2
        exit 0
    fi
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f /var/run/docker.pid
done
tail -n 20 "$LOG" >&2 || true
die "could not start dockerd with overlay2 or vfs; full log in $LOG"
