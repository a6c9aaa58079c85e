#!/usr/bin/env bash
# Starts a local PostgreSQL for the platform store tests and prints its DSN on stdout (progress
# goes to stderr, so `dsn=$(./scripts/start-postgres.sh)` captures only the DSN).
#
# Idempotent: a running server is left alone, an existing role and database are reused (the
# role's password is reset to the expected one). Prefers the Debian cluster 15/main
# (pg_ctlcluster, which drops root privileges to the cluster owner by itself); where that cluster
# is missing it is created with pg_createcluster, and where the Debian wrappers are absent a
# private cluster is initdb'd into $HEARTH_PG_DIR (default /tmp/hearth-postgres).
#
# Environment: HEARTH_PG_PORT (5432), HEARTH_PG_USER (hearth), HEARTH_PG_PASSWORD (hearth),
# HEARTH_PG_DATABASE (hearth_test), HEARTH_PG_DIR (fallback data directory).
set -euo pipefail

PG_VERSION=15
PORT=${HEARTH_PG_PORT:-5432}
ROLE=${HEARTH_PG_USER:-hearth}
PASSWORD=${HEARTH_PG_PASSWORD:-hearth}
DATABASE=${HEARTH_PG_DATABASE:-hearth_test}
FALLBACK_DIR=${HEARTH_PG_DIR:-/tmp/hearth-postgres}
PG_BIN=/usr/lib/postgresql/${PG_VERSION}/bin

log() { echo "start-postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Names and the password go into SQL literals; keep them to a safe alphabet instead of quoting.
for value in "$ROLE" "$DATABASE" "$PASSWORD"; do
  [[ $value =~ ^[A-Za-z0-9_]+$ ]] || die "role, database and password must match [A-Za-z0-9_]+"
done

# Runs a command as the postgres OS user (peer authentication over the local socket).
as_postgres() {
  if [[ $(id -un) == postgres ]]; then
    "$@"
  elif [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    sudo -u postgres -- "$@"
  fi
}

SOCKET_DIR=/var/run/postgresql
if command -v pg_ctlcluster >/dev/null 2>&1; then
  if ! pg_lsclusters --no-header 2>/dev/null | awk '{print $1, $2}' | grep -qx "$PG_VERSION main"; then
    log "cluster $PG_VERSION/main missing: creating it on port $PORT"
    pg_createcluster "$PG_VERSION" main --port "$PORT" >&2
  fi
  status=$(pg_lsclusters --no-header | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}')
  if [[ $status != online* ]]; then
    log "starting cluster $PG_VERSION/main"
    pg_ctlcluster "$PG_VERSION" main start >&2
  else
    log "cluster $PG_VERSION/main already running"
  fi
  PORT=$(pg_lsclusters --no-header | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $3}')
else
  # No Debian wrappers: a private cluster owned by the postgres user (or by us when not root).
  [[ -x $PG_BIN/initdb ]] || die "PostgreSQL $PG_VERSION not found (run scripts/install-deps.sh)"
  SOCKET_DIR=$FALLBACK_DIR/socket
  if [[ ! -f $FALLBACK_DIR/data/PG_VERSION ]]; then
    log "initdb into $FALLBACK_DIR/data"
    mkdir -p "$FALLBACK_DIR/data" "$SOCKET_DIR"
    [[ $(id -u) -eq 0 ]] && chown -R postgres: "$FALLBACK_DIR"
    as_postgres "$PG_BIN/initdb" -D "$FALLBACK_DIR/data" -U postgres --auth-local=peer \
      --auth-host=scram-sha-256 >&2
  fi
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$FALLBACK_DIR/data" status >/dev/null 2>&1; then
    log "starting private cluster in $FALLBACK_DIR/data"
    as_postgres "$PG_BIN/pg_ctl" -D "$FALLBACK_DIR/data" -l "$FALLBACK_DIR/log" -w start \
      -o "-p $PORT -k $SOCKET_DIR -c listen_addresses=127.0.0.1" >&2
  fi
fi

for _ in $(seq 1 30); do
  if pg_isready -q -h 127.0.0.1 -p "$PORT"; then break; fi
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || die "PostgreSQL did not accept connections on 127.0.0.1:$PORT"

psql_admin() {
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -d postgres "$@"
}

if [[ -z $(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'") ]]; then
  log "creating role $ROLE"
  psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
else
  psql_admin -c "ALTER ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
fi
if [[ -z $(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") ]]; then
  log "creating database $DATABASE"
  psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE"
fi

echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
