#!/usr/bin/env bash
# Install Debian's nginx for the multi-instance test (run as root). Idempotent and quiet.
# The test runs its own nginx on a generated configuration, so the package's service is
# kept from starting during the install (it would otherwise listen on port 80).
set -euo pipefail
if [ -x /usr/sbin/nginx ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
added_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
fi
apt-get install -y -qq --no-install-recommends nginx >/dev/null
if [ "$added_policy" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
fi
/usr/sbin/nginx -v
