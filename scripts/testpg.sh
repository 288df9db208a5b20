#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL cluster on a loopback port for the
# test suite, installing PostgreSQL from Debian's packages when missing.
# Usage: scripts/testpg.sh start|stop|dsn
# The DSN is printed by `start` and `dsn`.
set -euo pipefail
PGPORT="${ARGUS_PGPORT:-55432}"
PGDIR="${ARGUS_PGDIR:-/tmp/argus-pgtest-$PGPORT}"
DSN="postgres://argus:argus@127.0.0.1:$PGPORT/argus?sslmode=disable"

find_bin() {
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

ensure_installed() {
  if ! find_bin >/dev/null; then
    echo "testpg: PostgreSQL server not found; installing from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
}

is_up() {
  local bin; bin="$(find_bin)"
  "$bin/pg_isready" -h 127.0.0.1 -p "$PGPORT" -q 2>/dev/null
}

start() {
  ensure_installed
  local bin; bin="$(find_bin)"
  if is_up; then echo "$DSN"; return 0; fi
  if [ ! -f "$PGDIR/PG_VERSION" ]; then
    rm -rf "$PGDIR"; mkdir -p "$PGDIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$PGDIR"
    as_pg "'$bin/initdb' -D '$PGDIR' -U postgres --auth=trust -E UTF8 >/dev/null"
    cat >>"$PGDIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
  fi
  as_pg "'$bin/pg_ctl' -D '$PGDIR' -l '$PGDIR/server.log' -w -t 60 start >/dev/null"
  "$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qtAc "SELECT 1 FROM pg_roles WHERE rolname='argus'" | grep -q 1 ||
    "$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE ROLE argus LOGIN SUPERUSER PASSWORD 'argus'" >/dev/null
  "$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='argus'" | grep -q 1 ||
    "$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE argus OWNER argus" >/dev/null
  echo "$DSN"
}

stop() {
  local bin; bin="$(find_bin)" || return 0
  [ -f "$PGDIR/PG_VERSION" ] || return 0
  as_pg "'$bin/pg_ctl' -D '$PGDIR' -m fast -w stop >/dev/null" || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  dsn) echo "$DSN" ;;
  *) echo "usage: $0 start|stop|dsn" >&2; exit 2 ;;
esac
