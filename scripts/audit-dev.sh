#!/usr/bin/env bash
# Runs a local Argus audit-log service in one command: the built collector
# (_build/otelcol-argus, from `make build`) with testdata/audit-dev.yaml, on
# a temporary SQLite file removed on exit (or ARGUS_DEV_DB to keep one).
#
#   scripts/audit-dev.sh                  # API on http://localhost:8889
#   ARGUS_API_ENDPOINT=localhost:9000 scripts/audit-dev.sh
#   ARGUS_DEV_DB=./audit.db scripts/audit-dev.sh
#
# Then: ARGUS_API_URL=http://localhost:8889 go run ./your/service
#       curl 'http://localhost:8889/api/audit-logs?limit=10'
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${ARGUS_BINARY:-$root/_build/otelcol-argus}"
if [ ! -x "$bin" ]; then
  echo "audit-dev: $bin not found; run 'make build' first" >&2
  exit 1
fi
tmp=""
if [ -z "${ARGUS_DEV_DB:-}" ]; then
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/argus-audit-dev.XXXXXX")"
  export ARGUS_DEV_DB="$tmp/audit.db"
fi
endpoint="${ARGUS_API_ENDPOINT:-localhost:8889}"
echo "audit-dev: database $ARGUS_DEV_DB" >&2
echo "audit-dev: API on http://$endpoint (GET /health, /api/audit-logs, /api/traces)" >&2

"$bin" --config "$root/testdata/audit-dev.yaml" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait "$pid"
