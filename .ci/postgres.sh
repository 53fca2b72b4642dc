#!/usr/bin/env bash
# Start a local PostgreSQL for the test suite and benchmarks (Debian bookworm, run as root).
#
# Idempotent: installs the server if missing, starts (or reuses) a cluster that listens on
# 127.0.0.1 only, creates the role and database "v6test" (the role may create databases, so
# each test gets a fresh one) and writes .ci/postgres.env with V6_TEST_POSTGRES_URL.
# Usage:  bash .ci/postgres.sh && source .ci/postgres.env
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENV_FILE="$HERE/postgres.env"
PGUSER_NAME="v6test"
PGPASS="v6test"
PGDB="v6test"
PORT="${V6_PG_PORT:-5432}"

if [ "$(id -u)" -ne 0 ]; then
    echo "postgres.sh: run as root (it installs and starts a system cluster)" >&2
    exit 1
fi

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
fi

VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
CLUSTER="main"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$VERSION $CLUSTER"; then
    pg_createcluster --port "$PORT" "$VERSION" "$CLUSTER" >/dev/null
fi

CONF_DIR="/etc/postgresql/$VERSION/$CLUSTER"
# A throw-away test cluster: local only, durability traded for speed.
cat > "$CONF_DIR/conf.d/v6test.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
grep -q "^include_dir = 'conf.d'" "$CONF_DIR/postgresql.conf" \
    || echo "include_dir = 'conf.d'" >> "$CONF_DIR/postgresql.conf"

STATUS="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $4}')"
if [ "$STATUS" != "online" ]; then
    pg_ctlcluster "$VERSION" "$CLUSTER" start
fi

for _ in $(seq 1 50); do
    if su postgres -c "pg_isready -q -h 127.0.0.1 -p $PORT"; then break; fi
    sleep 0.1
done

psql_admin() { su postgres -c "psql -q -v ON_ERROR_STOP=1 -p $PORT -tAc \"$1\""; }

if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$PGUSER_NAME'")" != "1" ]; then
    psql_admin "CREATE ROLE $PGUSER_NAME LOGIN CREATEDB PASSWORD '$PGPASS'"
else
    psql_admin "ALTER ROLE $PGUSER_NAME LOGIN CREATEDB PASSWORD '$PGPASS'"
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='$PGDB'")" != "1" ]; then
    psql_admin "CREATE DATABASE $PGDB OWNER $PGUSER_NAME"
fi

URL="postgresql+psycopg://$PGUSER_NAME:$PGPASS@127.0.0.1:$PORT/$PGDB"
echo "export V6_TEST_POSTGRES_URL=$URL" > "$ENV_FILE"
echo "export V6_TEST_POSTGRES_URL=$URL"
