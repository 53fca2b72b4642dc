#!/usr/bin/env bash
# Install OpenSSH's server binary for the ssh_tunnels tests (Debian, run as root).
#
# Idempotent and quiet. Only the binary is wanted: the tests start their own sshd on a
# free port with a throw-away host key and configuration, so the system service is kept
# from starting during the install and is not enabled.
# Usage:  bash .ci/sshd.sh
set -euo pipefail

if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "sshd.sh: run as root (it installs openssh-server)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY" && chmod 755 "$POLICY" && OWN_POLICY=1
fi
trap '[ "$OWN_POLICY" = 1 ] && rm -f "$POLICY"' EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
