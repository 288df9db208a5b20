#!/usr/bin/env bash
# Load test of the built otelcol-argus (make load; make bench runs it after
# the Go benchmarks). For each scenario it starts the collector with a
# generated config on free loopback ports, drives it with argus-load
# (LangGraph-shaped runs) for LOAD_DURATION seconds, waits until the store
# stops growing, stops the collector with SIGTERM and records what was
# acknowledged, what was stored, CPU and peak RSS. The table and the targets
# are printed; test-output/load/summary.json has every figure.
#
# Scenarios (LOAD_SCENARIOS selects a subset):
#   ceiling             otlp -> memory_limiter -> nop             (what the receiver alone takes)
#   sqlite              otlp -> memory_limiter -> argusdetector -> argus (sqlite)
#   sqlite-no-detector  otlp -> memory_limiter -> argus (sqlite)  (detection CPU overhead)
#   postgres            otlp -> memory_limiter -> argusdetector -> argus (postgres)
#   telemetrygen        plain telemetrygen spans into the sqlite pipeline
#   overload            sqlite pipeline, memory_limiter 150/30 MiB, large states at max rate
#
# Environment: LOAD_DURATION (s, default 30), LOAD_WORKERS (4), LOAD_RATE
# (runs/s over all workers, 0 = max), LOAD_SCENARIOS, LOAD_OUTPUT,
# LOAD_DRAIN_TIMEOUT (s, 300), LOAD_DETECTOR_STATE (1 = the detector keeps
# its write-ahead log and baselines in file_storage, as config.yaml ships;
# 0 = in memory only), LOAD_PPROF (1 = the collector runs the pprof
# extension and a CPU profile of the middle of the load is saved as
# <scenario>/cpu.pprof), LOAD_TRACES_QUEUE (wait = the argus exporter's
# queue as config.yaml ships it: in memory, wait_for_result, the detector's
# write-ahead log the one durable copy; persistent = the former shape, a
# second copy of every request in file_storage, for comparison),
# ARGUS_BINARY.
# Only loopback addresses are used; every wait is bounded.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BINARY="${ARGUS_BINARY:-$ROOT/_build/otelcol-argus}"
OUT="${LOAD_OUTPUT:-$ROOT/test-output/load}"
DURATION="${LOAD_DURATION:-30}"
WORKERS="${LOAD_WORKERS:-4}"
RATE="${LOAD_RATE:-0}"
DRAIN_TIMEOUT="${LOAD_DRAIN_TIMEOUT:-300}"
SCENARIOS="${LOAD_SCENARIOS:-ceiling sqlite sqlite-no-detector postgres telemetrygen overload}"
DETECTOR_STATE="${LOAD_DETECTOR_STATE:-1}"
PPROF="${LOAD_PPROF:-0}"
TRACES_QUEUE="${LOAD_TRACES_QUEUE:-wait}"
PPROF_PORT=""
TOOLS="$ROOT/.tools"
TELEMETRYGEN_VERSION=v0.161.0
TELEMETRYGEN="$TOOLS/telemetrygen-$TELEMETRYGEN_VERSION"
CLK_TCK="$(getconf CLK_TCK)"

log() { printf '%s load: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -gt 0 ]] || die "LOAD_DURATION must be a whole number of seconds, got '$DURATION'"
[ -x "$BINARY" ] || die "no collector at $BINARY: run make build"
[[ "$TRACES_QUEUE" = wait || "$TRACES_QUEUE" = persistent ]] || die "LOAD_TRACES_QUEUE must be wait or persistent, got '$TRACES_QUEUE'"

mkdir -p "$TOOLS"
log "building argus-load"
go build -o "$TOOLS/argus-load" ./cmd/argus-load
LOADER="$TOOLS/argus-load"

ensure_telemetrygen() {
  if [ ! -x "$TELEMETRYGEN" ]; then
    log "installing telemetrygen $TELEMETRYGEN_VERSION into .tools/"
    local tmp; tmp="$(mktemp -d)"
    GOBIN="$tmp" go install "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION"
    mv "$tmp/telemetrygen" "$TELEMETRYGEN"
    rmdir "$tmp"
  fi
}

# free_port prints a loopback TCP port nothing listens on.
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  die "no free loopback port found"
}

cpu_ticks() { # utime + stime of a pid (fields 14 and 15 of /proc/pid/stat)
  local stat rest
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
  rest="${stat##*) }"
  set -- $rest
  echo $(( ${12} + ${13} ))
}

vm_hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }

COLLECTOR_PID=""
SAMPLER_PID=""
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  if [ -n "$COLLECTOR_PID" ] && kill -0 "$COLLECTOR_PID" 2>/dev/null; then
    kill -TERM "$COLLECTOR_PID" 2>/dev/null || true
    sleep 5
    kill -KILL "$COLLECTOR_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# write_config DIR PORT PROCESSORS EXPORTER_YAML EXPORTER_NAME LIMIT SPIKE
write_config() {
  local dir="$1" port="$2" procs="$3" exporter="$4" name="$5" limit="$6" spike="$7"
  local ext="" extlist="[]" state=""
  # The memory settings config.yaml ships: a 100 ms limiter check, the
  # detector's byte bound at limit/8 and GOMEMLIMIT = limit (start_collector).
  LIMIT_MIB="$limit"
  if [[ "$exporter" == *file_storage/queue* ]]; then
    ext="  file_storage/queue:
    directory: $dir/queue
    create_directory: true"
    extlist="[file_storage/queue]"
  fi
  if [ "$DETECTOR_STATE" = 1 ] && [[ "$procs" == *argusdetector* ]]; then
    # As config.yaml ships: the detector's write-ahead log and baselines.
    ext="$ext
  file_storage/detector:
    directory: $dir/detector
    create_directory: true"
    if [ "$extlist" = "[]" ]; then extlist="[file_storage/detector]"; else extlist="${extlist%]}, file_storage/detector]"; fi
    state="    wal:
      storage: file_storage/detector
    baselines:
      storage: file_storage/detector"
  fi
  if [ "$PPROF" = 1 ]; then
    PPROF_PORT="$(free_port)"
    ext="$ext
  pprof:
    endpoint: 127.0.0.1:$PPROF_PORT"
    if [ "$extlist" = "[]" ]; then extlist="[pprof]"; else extlist="${extlist%]}, pprof]"; fi
  fi
  cat >"$dir/config.yaml" <<YAML
extensions:
$ext
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$port
processors:
  memory_limiter:
    check_interval: 100ms
    limit_mib: $limit
    spike_limit_mib: $spike
  argusdetector:
    max_run_duration: 2s
    root_quiet_period: 200ms
    max_bytes: $((limit * 1024 * 1024 / 8))
$state
exporters:
  nop:
$exporter
service:
  extensions: $extlist
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      processors: $procs
      exporters: [$name]
YAML
}

# start_collector DIR PORT: starts the binary, waits until OTLP listens
# (receivers start last, so the whole pipeline is up), starts the VmHWM sampler.
start_collector() {
  local dir="$1" port="$2" i
  GOMEMLIMIT="${LIMIT_MIB}MiB" "$BINARY" --config "$dir/config.yaml" >"$dir/collector.log" 2>&1 &
  COLLECTOR_PID=$!
  for i in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$COLLECTOR_PID" 2>/dev/null || { tail -20 "$dir/collector.log" >&2; die "collector exited at start"; }
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "collector did not listen on $port within 60 s"
  # VmHWM only grows; the last reading before exit is the peak, also when
  # the process dies under load.
  ( while kill -0 "$COLLECTOR_PID" 2>/dev/null; do
      v="$(vm_hwm "$COLLECTOR_PID")"; [ -n "$v" ] && echo "$v" >"$dir/hwm"
      sleep 0.5
    done ) &
  SAMPLER_PID=$!
}

# stop_collector DIR CPU0 LOADAVG: measures, sends SIGTERM, writes proc.json.
stop_collector() {
  local dir="$1" cpu0="$2" loadavg="$3" alive=false cpu1=0 hwm code=0 i
  if kill -0 "$COLLECTOR_PID" 2>/dev/null; then
    alive=true
    cpu1="$(cpu_ticks "$COLLECTOR_PID")"
    hwm="$(vm_hwm "$COLLECTOR_PID")"; [ -n "$hwm" ] && echo "$hwm" >"$dir/hwm"
    kill -TERM "$COLLECTOR_PID"
    for i in $(seq 1 600); do kill -0 "$COLLECTOR_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$COLLECTOR_PID" 2>/dev/null; then
      log "collector did not stop within 60 s of SIGTERM; killing it"
      kill -KILL "$COLLECTOR_PID" 2>/dev/null || true
    fi
  fi
  wait "$COLLECTOR_PID" || code=$?
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  COLLECTOR_PID="" SAMPLER_PID=""
  [ "$alive" = true ] || log "collector was not running at the end of the scenario (exit $code)"
  hwm="$(cat "$dir/hwm" 2>/dev/null || echo 0)"
  cat >"$dir/proc.json" <<JSON
{"cpu_ticks": $(( cpu1 > cpu0 ? cpu1 - cpu0 : 0 )), "clk_tck": $CLK_TCK, "vm_hwm_kib": ${hwm:-0}, "alive_at_end": $alive, "exit_code": $code, "loadavg": "$loadavg"}
JSON
}

PG_BASE_DSN=""
postgres_dsn() { # a fresh database per run; PG_BASE_DSN is set by the caller
  local db="argus_load_$(date +%s)_$$"
  psql_cmd "$PG_BASE_DSN" -qc "CREATE DATABASE $db" >/dev/null
  echo "${PG_BASE_DSN/\/argus\?//$db?}"
}
psql_cmd() {
  local psql; psql="$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | head -1)"
  "$psql" "$@"
}

# scenario NAME KIND DRIVER DETECTOR LIMIT SPIKE [argus-load flags...]
scenario() {
  local name="$1" kind="$2" driver="$3" detector="$4" limit="$5" spike="$6"; shift 6
  local dir="$OUT/$name" port target="" exporter procs ename pipeline
  mkdir -p "$dir"
  port="$(free_port)"
  procs="[memory_limiter]"; pipeline="otlp -> memory_limiter"
  if [ "$detector" = true ]; then
    procs="[memory_limiter, argusdetector]"; pipeline="$pipeline -> argusdetector"
    [ "$DETECTOR_STATE" = 1 ] && pipeline="$pipeline (WAL)"
  fi
  # The argus exporter's queue (LOAD_TRACES_QUEUE). The same in the
  # scenarios with and without the detector: sqlite-no-detector is the
  # "same pipeline without the processor" of the detection-overhead ratio,
  # so it gets the same exporter config. Without the detector, wait means
  # no durable copy at all, and none is needed: the client's request is
  # acknowledged only once its rows are committed (or refused, and the
  # client sends it again).
  local queue qdesc
  if [ "$TRACES_QUEUE" = persistent ]; then
    queue="    sending_queue:
      enabled: true
      storage: file_storage/queue"
    qdesc="persistent queue"
  else
    queue="    sending_queue:
      enabled: true
      wait_for_result: true
      queue_size: 16
      block_on_overflow: true"
    qdesc="in-memory queue, wait_for_result"
  fi
  case "$driver" in
    nop)
      ename=nop exporter=""; pipeline="$pipeline -> nop" ;;
    sqlite)
      target="$dir/traces.db"; ename=argus; pipeline="$pipeline -> argus (sqlite, $qdesc)"
      exporter="  argus:
    driver: sqlite
    path: $target
$queue" ;;
    postgres)
      [ -n "$PG_BASE_DSN" ] || PG_BASE_DSN="$(scripts/testpg.sh start)"
      target="$(postgres_dsn)"; ename=argus; pipeline="$pipeline -> argus (postgres, $qdesc)"
      exporter="  argus:
    driver: postgres
    dsn: \"$target\"
$queue" ;;
  esac
  write_config "$dir" "$port" "$procs" "$exporter" "$ename" "$limit" "$spike"
  cat >"$dir/scenario.json" <<JSON
{"name": "$name", "kind": "$kind", "pipeline": "$pipeline", "driver": "$driver", "detector": $detector, "limit_mib": $limit, "spike_mib": $spike}
JSON
  local loadavg; loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
  log "$name: $pipeline on 127.0.0.1:$port for ${DURATION}s (load average $loadavg)"
  start_collector "$dir" "$port"
  local cpu0; cpu0="$(cpu_ticks "$COLLECTOR_PID")"

  if [ "$kind" = telemetrygen ]; then
    ensure_telemetrygen
    # A known count (not --duration), so stored rows can be checked against it.
    local traces=$(( DURATION * 50 )) tgcode=0
    "$TELEMETRYGEN" traces --otlp-insecure --otlp-endpoint "127.0.0.1:$port" --workers 2 --rate 50 \
      --traces "$traces" --child-spans 3 --service telemetrygen >"$dir/telemetrygen.log" 2>&1 || tgcode=$?
    echo "{\"traces\": $(( traces * 2 )), \"child_spans\": 3, \"exit_code\": $tgcode}" >"$dir/telemetrygen.json"
    "$LOADER" drain -driver "$driver" -target "$target" -want-traces $(( traces * 2 )) -want-steps $(( traces * 6 )) \
      -pid "$COLLECTOR_PID" -clk-tck "$CLK_TCK" -quiet 10s -timeout "${DRAIN_TIMEOUT}s" >"$dir/drain.json"
  else
    local profiler=""
    if [ "$PPROF" = 1 ]; then
      # The middle half of the load, so start-up and drain are not in it.
      ( sleep $(( DURATION / 4 )); curl -sf -o "$dir/cpu.pprof" \
          "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$(( DURATION / 2 > 0 ? DURATION / 2 : 1 ))" \
          || log "$name: no CPU profile" ) &
      profiler=$!
    fi
    "$LOADER" -endpoint "127.0.0.1:$port" -duration "${DURATION}s" -workers "$WORKERS" -rate "$RATE" "$@" \
      >"$dir/client.json" 2>"$dir/client.log" || log "$name: argus-load failed: $(tail -3 "$dir/client.log")"
    [ -n "$profiler" ] && wait "$profiler"
    if [ "$driver" != nop ]; then
      "$LOADER" drain -driver "$driver" -target "$target" -client "$dir/client.json" \
        -pid "$COLLECTOR_PID" -clk-tck "$CLK_TCK" -quiet 10s -timeout "${DRAIN_TIMEOUT}s" >"$dir/drain.json"
    fi
  fi
  stop_collector "$dir" "$cpu0" "$loadavg"
  if [ "$driver" = postgres ]; then
    # The collector has exited; FORCE ends server sessions not yet reaped.
    local db="${target%%\?*}"
    psql_cmd "$PG_BASE_DSN" -qc "DROP DATABASE IF EXISTS ${db##*/} WITH (FORCE)" >/dev/null 2>&1 || log "could not drop ${db##*/}"
  fi
  rm -rf "$dir/queue" "$dir/detector"
}

rm -rf "$OUT"
mkdir -p "$OUT"
log "machine: $(nproc) CPU, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SCENARIOS; do
  case "$s" in
    ceiling)            scenario ceiling ceiling nop false 1024 256 ;;
    sqlite)             scenario sqlite persist sqlite true 1024 256 ;;
    sqlite-no-detector) scenario sqlite-no-detector persist sqlite false 1024 256 ;;
    postgres)           scenario postgres persist postgres true 1024 256 ;;
    telemetrygen)       scenario telemetrygen telemetrygen sqlite true 1024 256 ;;
    overload)           scenario overload overload sqlite true 150 30 -workers 8 -state-min 20480 -state-max 61440 ;;
    *) die "unknown scenario '$s'" ;;
  esac
done

"$LOADER" report -dir "$OUT" -duration "${DURATION}s" \
  -command "LOAD_DURATION=$DURATION LOAD_WORKERS=$WORKERS LOAD_RATE=$RATE LOAD_TRACES_QUEUE=$TRACES_QUEUE scripts/load.sh"
