#!/usr/bin/env bash
# Re-records one SDK's runs: starts the capture endpoint writing to
# testdata/sdks/<sdk>/, runs test/sdks/<sdk>/record with ARGUS_CAPTURE_URL
# set (the agent names each run with POST $ARGUS_CAPTURE_URL/run?name=...,
# exports OTLP/HTTP to $ARGUS_CAPTURE_URL/v1/traces and flushes after each
# run), then stops the endpoint. Old recordings of the SDK are replaced.
# The checkout's absolute path in stack traces is recorded as /repo.
# Usage: test/sdks/record.sh <sdk>      (make record-sdks runs every SDK)
set -euo pipefail
cd "$(dirname "$0")/../.."
sdk="${1:?usage: test/sdks/record.sh <sdk>}"
[ -x "test/sdks/$sdk/record" ] || { echo "record.sh: test/sdks/$sdk/record is missing or not executable" >&2; exit 2; }
out="testdata/sdks/$sdk"
rm -rf "$out.new"
bin="$(mktemp -d)/capture"
go build -o "$bin" ./test/sdks/capture
fifo="$(mktemp -u)"; mkfifo "$fifo"
"$bin" -out "$out.new" -checkout "$PWD" >"$fifo" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$fifo"' EXIT
read -r url <"$fifo"
echo "record.sh: $sdk -> $out (capture at $url)"
( cd "test/sdks/$sdk" && ARGUS_CAPTURE_URL="$url" ./record )
curl -fsS -X POST "$url/shutdown" >/dev/null
wait $pid
rm -rf "$out" && mv "$out.new" "$out"
echo "record.sh: $(ls "$out" | wc -l) runs in $out"
