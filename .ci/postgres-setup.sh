#!/usr/bin/env bash
# Installs and starts PostgreSQL 15 from Debian's packages (apt-get, no container) for the review-store tests
# marked `postgres`, creates their role and database, and prints the URL to export -- and nothing else -- on
# stdout:
#   export MEDCITE_TEST_POSTGRES_URL="$(bash .ci/postgres-setup.sh)"
# Run as root (CI) or with sudo available; idempotent (a second run only checks that the server is up).
# Overridable: PG_VERSION (15), PG_CLUSTER (main), MEDCITE_PG_USER / MEDCITE_PG_PASSWORD (medcite),
# MEDCITE_PG_DATABASE (medcite_test). The role owns the database and may create schemas in it (each test gets
# a schema of its own, dropped afterwards).
set -euo pipefail
PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
DB_USER="${MEDCITE_PG_USER:-medcite}"
DB_PASSWORD="${MEDCITE_PG_PASSWORD:-medcite}"
DB_NAME="${MEDCITE_PG_DATABASE:-medcite_test}"

log() { echo "postgres-setup: $*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
as_postgres() {  # run a command as the postgres user from a directory it can read
  if [ "$(id -u)" -eq 0 ]; then (cd /tmp && runuser -u postgres -- "$@"); else (cd /tmp && sudo -u postgres "$@"); fi
}

if [ ! -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ] || ! command -v pg_ctlcluster >/dev/null; then
  log "installing postgresql-$PG_VERSION with apt-get"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "postgresql-$PG_VERSION" postgresql-client-common >&2
fi

cluster_field() {  # $1 = column of pg_lsclusters (3 = port, 4 = status)
  pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" -v f="$1" '$1 == v && $2 == c { print $f }'
}
if [ -z "$(cluster_field 2)" ]; then
  log "creating cluster $PG_VERSION/$PG_CLUSTER"
  $SUDO pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >&2
fi
PORT="$(cluster_field 3)"
if [ "$(cluster_field 4)" != "online" ]; then
  log "starting cluster $PG_VERSION/$PG_CLUSTER on port $PORT"
  $SUDO pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2
fi
for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p "$PORT"; then break; fi
  sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PORT" >&2 || { log "the server does not accept connections on 127.0.0.1:$PORT"; exit 1; }

as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres \
  -v user="$DB_USER" -v password="$DB_PASSWORD" -v db="$DB_NAME" >&2 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user')
\gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'user', :'password')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL

# The tests connect over TCP with a password, exactly as the URL says: check that this works.
PGPASSWORD="$DB_PASSWORD" psql -X -q -At -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d "$DB_NAME" \
  -c "SELECT 'postgres-setup: connected as ' || current_user || ' to ' || current_database() || ', ' || version()" >&2
echo "postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
