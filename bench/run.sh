#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: every benchmark of bench/README.md, on this machine, in one run.
# Called by `make bench` after the build; builds nothing itself. Writes a results table with the
# exact command and config of every figure to bench/results/latest.md (latest-small.md with
# SMALL=1) and prints it. Its helpers are in bench/run_lib.sh and the table is written by
# bench/run_report.sh; it sources both.
#
# Environment:
#   SMALL=1          quick run (about a minute) with small sizes, for development
#   RESULTS=FILE     where to write the table
#   KEEP_WORK=1      keep the temporary directory (daemon logs, stores)
#   QUERY_STORE=DIR  build the query benchmark's store there and reuse it when the parameters match
#   INGEST_SPANS MEMORY_SPANS FLOOR_SPANS SAMPLER_SPANS QUERY_SPANS LOOKUPS SEARCHES: sizes
#   CALIBRATE=0|1    size the ingest runs from a 100k-span calibration run so that each costs the
#                    daemon about INGEST_CPU_BUDGET (default 40) CPU-seconds, at most INGEST_SPANS
#   QUERY_BUILD_BUDGET  stop building the query store after this long (default 600s) and measure
#                    the smaller store (its size is in the table). 10M spans cost the benchmark
#                    about 480 CPU-s (half of it generating the traces): ~250 s on 2 idle cores;
#                    600 s still reaches 10M when other work leaves it 0.8 of a core
#   LOADGEN_FLAGS    extra flags for every tailtrace-loadgen run (e.g. "--connections 4")
#   WAL_RUNS=0       skip the four extra ingest runs that measure the write-ahead log's cost
#   CLUSTER_RUNS=0   skip the 3-node cluster runs (keep-all, 10% policy, and 10% policy with
#                    cluster.compression: none and gzip; all spans sent to node 1 so that 2/3 are
#                    forwarded); they listen on 127.0.0.31-33
#   CLUSTER_PAIRS    how many times one node and then the cluster run back to back, per sampling
#                    config (default 3, 1 with SMALL=1); the verdict is on keep-all's median ratio
#   CLUSTER_SPANS    spans per cluster run and its single-node partner (default: INGEST_SPANS,
#                    at most 1,000,000)
#   CLICKHOUSE_RUNS=0  skip the ClickHouse section (storage.backend: clickhouse, each run against a
#                    private clickhouse-server it starts: the keep-all and 10% policy ingest runs
#                    with INGEST_SPANS, then tailtrace-bench-query --backend clickhouse); figures
#                    only, no targets. Without the server binary the section reports itself
#                    skipped and the rest runs
#   CLICKHOUSE_SERVER  the clickhouse-server binary (default /usr/sbin/clickhouse-server, Debian's
#                    18.16, which `make deps` installs)
#   CLICKHOUSE_P10=0 skip the ClickHouse 10% policy ingest run (keep-all only)
#   CLICKHOUSE_QUERY_SPANS  spans in the ClickHouse query store (default 1,000,000; 200,000 with
#                    SMALL=1), smaller than RocksDB's: on 2 cores ClickHouse 18.16 takes ~55 s to
#                    build 1M (~110 s for 2M, ~9 min for 10M), and its searches, slower the larger
#                    the store, ~1 min for SEARCHES=100 at 1M: the whole query run ~2.5 min
#   CLICKHOUSE_QUERY_BUILD_BUDGET  stop building it after this long (default 120s, 60s with
#                    SMALL=1) and measure the smaller store (its size is in the table)
#   ONLY=clickhouse  run the ClickHouse section alone (after the calibration run when CALIBRATE=1,
#                    so that its ingest size is the one the RocksDB runs get); the table holds its
#                    figures only and goes to bench/results/latest-clickhouse.md (latest-small.md
#                    with SMALL=1) unless RESULTS says otherwise
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${1:-build}
if ! BUILD=$(cd "$BUILD_DIR" 2>/dev/null && pwd); then
  echo "bench/run.sh: build directory '$BUILD_DIR' does not exist; run 'make build' first" >&2
  exit 2
fi
DAEMON=$BUILD/daemon/tailtraced
LOADGEN=$BUILD/bench/tailtrace-loadgen
SAMPLER=$BUILD/bench/tailtrace-bench-sampler
FLOOR=$BUILD/bench/tailtrace-bench-floor
QUERY=$BUILD/bench/tailtrace-bench-query
STORETOOL=$BUILD/bench/tailtrace-bench-storetool
for bin in "$DAEMON" "$LOADGEN" "$SAMPLER" "$FLOOR" "$QUERY" "$STORETOOL"; do
  if [[ ! -x $bin ]]; then
    echo "bench/run.sh: $bin is missing; build it first (make build BUILD_DIR=$BUILD_DIR)" >&2
    exit 2
  fi
done

SMALL=${SMALL:-0}
ONLY=${ONLY:-}
case $ONLY in
  "") RUN_ROCKSDB=1 ;;
  clickhouse)
    RUN_ROCKSDB=0
    [[ $SMALL == 1 ]] || : "${RESULTS:=$ROOT/bench/results/latest-clickhouse.md}"
    ;;
  *)
    echo "bench/run.sh: ONLY=$ONLY: the only section that runs alone is clickhouse" >&2
    exit 2
    ;;
esac
CLICKHOUSE_RUNS=${CLICKHOUSE_RUNS:-1}
CLICKHOUSE_SERVER=${CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}
if [[ $SMALL == 1 ]]; then
  : "${INGEST_SPANS:=50000}" "${MEMORY_SPANS:=100000}" "${FLOOR_SPANS:=200000}"
  : "${SAMPLER_SPANS:=200000}" "${QUERY_SPANS:=300000}" "${LOOKUPS:=200}" "${SEARCHES:=30}"
  : "${QUERY_BUILD_BUDGET:=20s}" "${CALIBRATE:=0}" "${CLUSTER_PAIRS:=1}"
  : "${CLICKHOUSE_QUERY_SPANS:=200000}" "${CLICKHOUSE_QUERY_BUILD_BUDGET:=60s}"
  : "${RESULTS:=$ROOT/bench/results/latest-small.md}"
else
  : "${INGEST_SPANS:=2000000}" "${MEMORY_SPANS:=800000}" "${FLOOR_SPANS:=2000000}"
  : "${SAMPLER_SPANS:=1000000}" "${QUERY_SPANS:=10000000}" "${LOOKUPS:=1000}" "${SEARCHES:=100}"
  : "${QUERY_BUILD_BUDGET:=600s}" "${CALIBRATE:=1}" "${CLUSTER_PAIRS:=3}"
  : "${CLICKHOUSE_QUERY_SPANS:=1000000}" "${CLICKHOUSE_QUERY_BUILD_BUDGET:=120s}"
  : "${RESULTS:=$ROOT/bench/results/latest.md}"
fi
LOADGEN_FLAGS=${LOADGEN_FLAGS:-}
CLK_TCK=$(getconf CLK_TCK)

# The targets, each defined once here: the table's Target column and its verdicts both use them.
# Issue 14 (keep-all ingest against an honest floor):
T_KEEPALL_PER_CPU=250000   # keep-all, all indexes: spans per daemon CPU-second, at least
T_KEEPALL_AIM=500000       # ... and the aim
T_KEEPALL_FLOOR=0.3        # keep-all / the floor (tailtrace-bench-floor), at least
T_P10_PER_CPU=500000       # 10% policy: spans per daemon CPU-second, at least
T_DISK_FLUSHED=60          # bytes on disk per span before compaction (the shutdown flush), at most
T_DISK_COMPACTED=40        # bytes on disk per span after a full compaction, at most
T_TRACE_P99_MS=1           # trace by ID on the query store: p99 in ms, at most
T_SEARCH_P99_MS=10         # searches on the query store: p99 in ms, at most
# Earlier issues:
T_WAL_ON=0.9               # spans per daemon CPU-second with the write-ahead log on / off
T_CLUSTER_RATIO=1.3        # cluster of 3: CPU per span relative to one node, at most
T_MEMORY_RATIO=1.5         # buffered spans: memory / wire bytes, at most
T_SAMPLER_PER_CPU=1000000  # the sampler alone: spans per CPU-second of one core ("millions")
T_QUERY_SPANS=10000000     # spans in the query store

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tailtrace-bench.XXXXXX")
DPID=""
CLUSTER_PIDS=()  # the cluster run's daemons while they run
CH_PID=""        # the ClickHouse section's clickhouse-server while it runs
cleanup() {
  local pid
  for pid in $DPID "${CLUSTER_PIDS[@]}" $CH_PID; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in $DPID "${CLUSTER_PIDS[@]}" $CH_PID; do
    wait "$pid" 2>/dev/null
  done
  if [[ ${KEEP_WORK:-0} == 1 ]]; then
    echo "bench/run.sh: work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- helpers ----------------------------------------------------------------------------------

# shellcheck source=bench/run_lib.sh
source "$ROOT/bench/run_lib.sh"
CMDS=()  # commands for the report, in order of use (add_cmd)

LOADGEN_COMMON="--protocol grpc --connections 2 --inflight 4 $LOADGEN_FLAGS"

mkdir -p "$(dirname "$RESULTS")"

# ---- 1. ingest end-to-end ---------------------------------------------------------------------

# run_ingest NAME CONFIG SPANS [quick|clickhouse [all]]: sets R[NAME.*]; "quick" skips measuring
# the store on disk (which compacts it) when only the CPU figures are wanted. "clickhouse": CONFIG
# stores in the private server CH_PID, database CH_DATABASE (start_clickhouse): there is no RocksDB
# store to measure; the server's CPU time is measured as the daemon's, until its merges stopped
# too (R[NAME.ch_cpu_s], R[NAME.per_total_cpu]: spans per daemon + server CPU-second), and the
# bytes on disk are those of the database's active parts (system.parts). "all" (keep-all
# configs): the run is settled only once every accepted span is stored.
declare -A R
run_ingest() {
  local name=$1 cfg=$2 spans=$3 mode=${4:-} expect=${5:-}
  log "ingest ($name): $spans spans over OTLP/gRPC"
  if ! start_daemon "$name" "$cfg"; then
    R[$name.skipped]="skipped: $DAEMON_ERROR"
    log "ingest ($name) ${R[$name.skipped]}"
    return
  fi
  local pid=$DPID
  local c0 c1 t0 t1 lg ch0="" ch1=""
  c0=$(cpu_ticks "$pid")
  [[ $mode == clickhouse ]] && ch0=$(proc_ticks "$CH_PID")
  t0=$(date +%s.%N)
  local cmd="tailtrace-loadgen --target $GRPC_ADDR $LOADGEN_COMMON --spans $spans"
  lg=$("$LOADGEN" --target "$GRPC_ADDR" $LOADGEN_COMMON --spans "$spans" 2>"$WORK/$name.loadgen.stderr" | tail -1)
  # A ClickHouse store takes its spans at the pace of its INSERTs (each shard's Write waits for
  # one, which waited up to flush_interval): 2M spans take it about 2 minutes here, and the
  # stored-span count stays put longer between writes than with RocksDB. So it must stay put for
  # 3 s, not 1, and with "all" first reach the accepted spans: once, the 1 s rule took a
  # ClickHouse run as settled with a sixth of its spans still to write.
  local settle=120 SETTLE_STABLE=2
  [[ $mode == clickhouse ]] && settle=600 SETTLE_STABLE=6
  local accepted_now
  accepted_now=$(jget "$lg" spans_accepted)
  if [[ $expect == all && -n $accepted_now ]] && ! wait_stored "$accepted_now" "$settle"; then
    R[$name.note]="fewer spans than accepted were stored $settle s after the load"
  fi
  if ! wait_settled "$settle"; then
    R[$name.note]+="${R[$name.note]:+; }the pipeline did not settle within $settle s after the load (figures taken then)"
  fi
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  if [[ $mode == clickhouse ]]; then
    ch_await_merges "$CH_DATABASE" 120 ||
      R[$name.note]+="${R[$name.note]:+; }ClickHouse still merged 120 s after the pipeline settled (its CPU taken then)"
    ch1=$(proc_ticks "$CH_PID")
    R[$name.ch_wait_s]=$(calc "$(date +%s.%N) - $t1")
  fi
  local hwm
  hwm=$(status_kb "$pid" VmHWM)
  local m=$SETTLED_METRICS
  R[$name.stored_spans]=$(metric "$m" tailtrace_stored_spans_total)
  R[$name.metric_disk]=$(metric "$m" tailtrace_store_disk_bytes)
  stop_daemon
  R[$name.exit]=$STOP_STATUS
  if [[ $mode == clickhouse ]]; then
    local bytes parts tables
    read -r bytes parts tables <<<"$(ch_size "$CH_DATABASE")"
    R[$name.ch_disk]=$bytes R[$name.ch_parts]=$parts R[$name.ch_by_table]=$tables
    R[$name.ch_rows]=$(ch_query "SELECT count() FROM $CH_DATABASE.spans" 2>/dev/null)
    # Spans the daemon only wrote when it stopped were not in the figures taken before.
    local rows=${R[$name.ch_rows]} at_settle=${R[$name.stored_spans]}
    if [[ $rows =~ ^[0-9]+$ && $at_settle =~ ^[0-9]+$ ]] && ((rows > at_settle)); then
      R[$name.note]+="${R[$name.note]:+; }ClickHouse's \`spans\` holds $(fmt $((rows - at_settle))) more rows than the daemon had stored when the figures were taken (spans written as it stopped, whose work the figures miss, or rows written twice)"
    fi
    R[$name.ch_hwm_mb]=$(calc "$(status_kb "$CH_PID" VmHWM || echo 0) / 1024")
    R[$name.ch_cpu_s]=$(calc "(${ch1:-0} - ${ch0:-0}) / $CLK_TCK")
  else
    R[$name.du]=$(du -sb "$WORK/$name-data" | cut -f1)
    local st=""
    [[ $mode == quick ]] ||
      st=$("$STORETOOL" --path "$WORK/$name-data" --breakdown 2>"$WORK/$name.storetool.stderr" | tail -1)
    R[$name.storetool]=$st
    R[$name.sst_flushed]=$(jget "$st" sst_bytes_before)
    R[$name.sst_compacted]=$(jget "$st" sst_bytes_after_compaction)
    R[$name.compact_s]=$(jget "$st" compact_seconds)
  fi
  R[$name.cpu_s]=$(calc "($c1 - $c0) / $CLK_TCK")
  R[$name.accepted]=$(jget "$lg" spans_accepted)
  R[$name.wall_rate]=$(jget "$lg" spans_per_second)
  R[$name.settle_s]=$(calc "$t1 - $t0")
  R[$name.p50]=$(jget "$lg" latency_p50_ms)
  R[$name.p99]=$(jget "$lg" latency_p99_ms)
  R[$name.errors]=$(jget "$lg" errors)
  R[$name.retries]=$(jget "$lg" retries)
  R[$name.failed]=$(jget "$lg" spans_failed)
  R[$name.wire]=$(jget "$lg" wire_bytes_per_span)
  R[$name.workload]=$(jget "$lg" workload)
  R[$name.hwm_mb]=$(calc "${hwm:-0} / 1024")
  add_cmd "$(scrub "$cmd")  (config: $(scrub "$cfg"))"
  R[$name.cmd]=$CMD_INDEX
  if [[ -z ${R[$name.accepted]} || ${R[$name.accepted]} == 0 ]]; then
    R[$name.skipped]="failed: loadgen: $(tail -3 "$WORK/$name.loadgen.stderr" | tr '\n' ' ' | cut -c1-300)"
    return
  fi
  R[$name.per_cpu]=$(calc "${R[$name.accepted]} / (${R[$name.cpu_s]} > 0 ? ${R[$name.cpu_s]} : 1e-9)")
  local stored=${R[$name.stored_spans]:-0}
  if [[ $mode == clickhouse ]]; then
    R[$name.per_total_cpu]=$(calc "${R[$name.accepted]} / (${R[$name.cpu_s]} + ${R[$name.ch_cpu_s]})")
    # Per span on disk: the rows of `spans` (the spans stored, also those written as it stopped).
    [[ ${R[$name.ch_rows]} =~ ^[0-9]+$ ]] && stored=${R[$name.ch_rows]}
    [[ $stored -gt 0 ]] && R[$name.bps_ch]=$(calc "${R[$name.ch_disk]:-0} / $stored")
    log "ingest ($name): ${R[$name.accepted]} spans accepted, daemon CPU ${R[$name.cpu_s]} s" \
        "= $(fmt "${R[$name.per_cpu]}") spans/CPU-s; ClickHouse CPU ${R[$name.ch_cpu_s]} s;" \
        "$(fmt "${R[$name.per_total_cpu]}") spans per daemon + ClickHouse CPU-s; ${R[$name.stored_spans]} stored"
    return
  fi
  if [[ $stored -gt 0 ]]; then
    R[$name.bps_flushed]=$(calc "${R[$name.sst_flushed]:-0} / $stored")
    R[$name.bps_compacted]=$(calc "${R[$name.sst_compacted]:-0} / $stored")
  fi
  log "ingest ($name): ${R[$name.accepted]} spans accepted, daemon CPU ${R[$name.cpu_s]} s" \
      "= $(fmt "${R[$name.per_cpu]}") spans/CPU-s; ${R[$name.stored_spans]} stored"
}

KEEPALL_CFG=$(config_file keepall "")
INGEST_NOTE="every ingest run sends INGEST_SPANS=$INGEST_SPANS spans"
if [[ $CALIBRATE == 1 ]]; then
  CAL_CFG=$(config_file calibrate "")
  run_ingest calibrate "$CAL_CFG" 100000
  if [[ -n ${R[calibrate.per_cpu]:-} ]]; then
    budget=${INGEST_CPU_BUDGET:-40}
    sized=$(awk -v r="${R[calibrate.per_cpu]}" -v b="$budget" -v max="$INGEST_SPANS" 'BEGIN {
      n = int(r * b / 100000) * 100000; if (n < 100000) n = 100000; if (n > max) n = max; print n }')
    INGEST_NOTE="ingest runs sized from a 100,000-span calibration run ($(fmt "${R[calibrate.per_cpu]}") spans per daemon CPU-s) to about ${budget} daemon CPU-seconds each, at most INGEST_SPANS=$(fmt "$INGEST_SPANS"): $(fmt "$sized") spans"
    INGEST_SPANS=$sized
  fi
  CMDS=()
fi
log "$INGEST_NOTE"
P10_POLICY='  policies: [{name: p10, type: probabilistic, probabilistic: {sampling_percentage: 10}}]'
P10_CFG=$(config_file p10 "$P10_POLICY")
if ((RUN_ROCKSDB)); then
  run_ingest keepall "$KEEPALL_CFG" "$INGEST_SPANS"
  run_ingest p10 "$P10_CFG" "$INGEST_SPANS"
fi
# The write-ahead log's cost: the runs above have it on (the default, fsync off); these turn it
# off and turn fsync on. WAL_RUNS=0 skips them.
if [[ ${WAL_RUNS:-1} == 1 ]] && ((RUN_ROCKSDB)); then
  run_ingest keepall-nowal "$(config_file keepall-nowal "" "wal: { enabled: false }")" "$INGEST_SPANS"
  run_ingest keepall-fsync "$(config_file keepall-fsync "" "wal: { fsync: true }")" "$INGEST_SPANS"
  run_ingest p10-nowal "$(config_file p10-nowal "$P10_POLICY" "wal: { enabled: false }")" "$INGEST_SPANS"
  run_ingest p10-fsync "$(config_file p10-fsync "$P10_POLICY" "wal: { fsync: true }")" "$INGEST_SPANS"
fi
if [[ -z ${R[p10.skipped]:-} && -n ${R[p10.stored_spans]:-} && -n ${R[p10.accepted]:-} ]] &&
  awk -v s="${R[p10.stored_spans]}" -v a="${R[p10.accepted]}" 'BEGIN { exit !(s > 0.5 * a) }'; then
  R[p10.note]="the 10% policy was not applied: $(fmt "${R[p10.stored_spans]}") of $(fmt "${R[p10.accepted]}") spans were stored (this daemon build accepts sampling.policies but keeps every trace)"
fi

# ---- 1c. a 3-node cluster ---------------------------------------------------------------------

CLUSTER_HOSTS=(127.0.0.31 127.0.0.32 127.0.0.33)
# A node that starts routes "as joining" for sampling.decision_wait (cluster/span_router.h): each
# span first goes to its trace's owner in the ring without this node, which keeps what it knows
# and passes the rest on (a handover, an extra hop). The cluster runs use the ingest runs'
# sampling config, whose decision_wait is the default 10 s, so they wait this long after the
# last node is ready before sending; otherwise the first seconds would measure the handover path.
CLUSTER_JOIN_WAIT_S=11

# stop_cluster: SIGTERM to every node at once, then as stop_daemon (120 s, then SIGKILL). Sets
# CLUSTER_EXITS (each node's exit status).
stop_cluster() {
  local pid
  CLUSTER_EXITS=()
  for pid in "${CLUSTER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${CLUSTER_PIDS[@]}"; do
    await_exit "$pid"
    CLUSTER_EXITS+=("$STOP_STATUS")
  done
  CLUSTER_PIDS=()
}

# start_cluster NAME SAMPLING_YAML [CLUSTER_YAML]: three members on CLUSTER_HOSTS sharing one free gRPC port
# (their other listeners on port 0), each with its own store in WORK/NAME-N-data; CLUSTER_YAML
# (e.g. "compression: none") goes into their cluster section. Sets
# CLUSTER_PIDS, CLUSTER_GRPC, CLUSTER_ADMIN, CLUSTER_CFGS, or DAEMON_ERROR and returns 1. When
# another socket took the port meanwhile (tailtraced refuses to start: "cannot bind: Address
# already in use"), all three start again on another port.
start_cluster() {
  local name=$1 sampling=$2 extra=${3:-} attempt port i n members cfg
  for ((attempt = 1; attempt <= 5; attempt++)); do
    if ! port=$(free_port); then
      DAEMON_ERROR="no free TCP port found for the cluster's gRPC listeners"
      return 1
    fi
    members=""
    for i in 0 1 2; do members+="${members:+, }${CLUSTER_HOSTS[i]}:$port"; done
    CLUSTER_PIDS=() CLUSTER_GRPC=() CLUSTER_ADMIN=() CLUSTER_CFGS=()
    for i in 0 1 2; do
      n=$name-$((i + 1))
      rm -rf "$WORK/$n-data"
      cfg=$(config_file "$n" "$sampling" "cluster:
  self: ${CLUSTER_HOSTS[i]}:$port
  peers:
    static: [$members]${extra:+
  $extra}" "${CLUSTER_HOSTS[i]}:$port")
      CLUSTER_CFGS+=("$cfg")
      if ! start_daemon "$n" "$cfg"; then
        stop_cluster
        if grep -Eqi 'cannot bind|in use|did not start' <<<"$DAEMON_ERROR"; then
          log "cluster ($name): port $port: $DAEMON_ERROR; trying another port"
          continue 2
        fi
        DAEMON_ERROR="node $((i + 1)): $DAEMON_ERROR"
        return 1
      fi
      CLUSTER_PIDS+=("$DPID")
      DPID=""
      CLUSTER_GRPC+=("$GRPC_ADDR")
      CLUSTER_ADMIN+=("$ADMIN_ADDR")
    done
    return 0
  done
  DAEMON_ERROR="no port found for the cluster's gRPC listeners in 5 attempts"
  return 1
}

# run_cluster NAME SAMPLING_YAML SPANS [CLUSTER_YAML]: the workload sent to node 1 of a 3-node cluster (so about
# 2/3 of the spans are forwarded), measured over the three daemons as run_ingest measures one.
# Sets R[NAME.*] like run_ingest (accepted, cpu_s, per_cpu, p50, p99, ...), plus stored_spans
# (the three nodes' sum), stored_per_node, forwarded, handover, local and forwarded_share.
run_cluster() {
  local name=$1 sampling=$2 spans=$3 extra=${4:-}
  log "cluster ($name): 3 nodes, $spans spans over OTLP/gRPC to node 1"
  if ! start_cluster "$name" "$sampling" "$extra"; then
    R[$name.skipped]="skipped: $DAEMON_ERROR"
    log "cluster ($name) ${R[$name.skipped]}"
    return
  fi
  log "cluster ($name): nodes ready on ${CLUSTER_GRPC[*]}; waiting ${CLUSTER_JOIN_WAIT_S} s (decision_wait) for their joining to end"
  sleep "$CLUSTER_JOIN_WAIT_S"
  local c0=0 c1=0 pid t0 t1 lg i m
  for pid in "${CLUSTER_PIDS[@]}"; do c0=$((c0 + $(cpu_ticks "$pid"))); done
  t0=$(date +%s.%N)
  local cmd="tailtrace-loadgen --target ${CLUSTER_GRPC[0]} $LOADGEN_COMMON --spans $spans"
  lg=$("$LOADGEN" --target "${CLUSTER_GRPC[0]}" $LOADGEN_COMMON --spans "$spans" 2>"$WORK/$name.loadgen.stderr" | tail -1)
  if ! wait_settled 180 "${CLUSTER_ADMIN[@]}"; then
    R[$name.note]="the cluster did not settle within 180 s after the load (figures taken then)"
  fi
  t1=$(date +%s.%N)
  for pid in "${CLUSTER_PIDS[@]}"; do c1=$((c1 + $(cpu_ticks "$pid"))); done
  local stored=0 forwarded=0 handover=0 local_spans=0 per_node="" s
  for i in 0 1 2; do
    m=${SETTLED_ALL[i]}
    s=$(metric "$m" tailtrace_stored_spans_total)
    stored=$((stored + ${s:-0}))
    per_node+="${per_node:+ / }$(fmt "${s:-}")"
    forwarded=$((forwarded + $(metric_sum "$m" tailtrace_cluster_forwarded_spans_total 'kind="owner"' || true) + 0))
    handover=$((handover + $(metric_sum "$m" tailtrace_cluster_forwarded_spans_total 'kind="handover"' || true) + 0))
    local_spans=$((local_spans + $(metric "$m" tailtrace_cluster_local_spans_total) + 0))
  done
  stop_cluster
  R[$name.exit]=$(IFS=/; echo "${CLUSTER_EXITS[*]}")
  R[$name.stored_spans]=$stored
  R[$name.stored_per_node]=$per_node
  R[$name.forwarded]=$forwarded
  R[$name.handover]=$handover
  R[$name.local]=$local_spans
  R[$name.cpu_s]=$(calc "($c1 - $c0) / $CLK_TCK")
  R[$name.accepted]=$(jget "$lg" spans_accepted)
  R[$name.wall_rate]=$(jget "$lg" spans_per_second)
  R[$name.settle_s]=$(calc "$t1 - $t0")
  R[$name.p50]=$(jget "$lg" latency_p50_ms)
  R[$name.p99]=$(jget "$lg" latency_p99_ms)
  R[$name.errors]=$(jget "$lg" errors)
  R[$name.retries]=$(jget "$lg" retries)
  R[$name.failed]=$(jget "$lg" spans_failed)
  add_cmd "$(scrub "$cmd")  (config: $(scrub "$(IFS=,; echo "${CLUSTER_CFGS[*]}" | sed 's/,/, /g')"))"
  R[$name.cmd]=$CMD_INDEX
  if [[ -z ${R[$name.accepted]} || ${R[$name.accepted]} == 0 ]]; then
    R[$name.skipped]="failed: loadgen: $(tail -3 "$WORK/$name.loadgen.stderr" | tr '\n' ' ' | cut -c1-300)"
    return
  fi
  R[$name.per_cpu]=$(calc "${R[$name.accepted]} / (${R[$name.cpu_s]} > 0 ? ${R[$name.cpu_s]} : 1e-9)")
  R[$name.forwarded_share]=$(calc "$forwarded / ${R[$name.accepted]}")
  log "cluster ($name): ${R[$name.accepted]} spans accepted, CPU of the 3 daemons ${R[$name.cpu_s]} s" \
      "= $(fmt "${R[$name.per_cpu]}") spans/CPU-s; $forwarded forwarded, $handover handed over;" \
      "stored $per_node"
}

# One node and the cluster, CLUSTER_PAIRS times back to back per sampling config: on shared cores
# one pair's ratio varies by a third from run to run, so the verdict takes the median pair.
: "${CLUSTER_SPANS:=$((INGEST_SPANS < 1000000 ? INGEST_SPANS : 1000000))}"
if [[ ${CLUSTER_RUNS:-1} == 1 ]] && ((RUN_ROCKSDB)); then
  for ((k = 1; k <= CLUSTER_PAIRS; k++)); do
    run_ingest "single-keepall-$k" "$(config_file "single-keepall-$k" "")" "$CLUSTER_SPANS" quick
    run_cluster "cluster-keepall-$k" "" "$CLUSTER_SPANS"
    run_ingest "single-p10-$k" "$(config_file "single-p10-$k" "$P10_POLICY")" "$CLUSTER_SPANS" quick
    run_cluster "cluster-p10-$k" "$P10_POLICY" "$CLUSTER_SPANS"
  done
  run_cluster cluster-p10-none "$P10_POLICY" "$CLUSTER_SPANS" "compression: none"
  run_cluster cluster-p10-gzip "$P10_POLICY" "$CLUSTER_SPANS" "compression: gzip"
fi

# ---- 1b. memory per buffered span (nothing decided while loading) ----------------------------

MEM_SAMPLING='  decision_wait: 1h
  decision_wait_after_root_received: 1h
  max_buffer_bytes: 16GiB'
if ((RUN_ROCKSDB)); then
  MEM_CFG=$(config_file memory "$MEM_SAMPLING")
  log "memory: $MEMORY_SPANS spans held in the sampler buffers"
  if start_daemon memory "$MEM_CFG"; then
    rss0=$(status_kb "$DPID" VmRSS)
    cmd="tailtrace-loadgen --target $GRPC_ADDR $LOADGEN_COMMON --spans $MEMORY_SPANS"
    lg=$("$LOADGEN" --target "$GRPC_ADDR" $LOADGEN_COMMON --spans "$MEMORY_SPANS" 2>"$WORK/memory.loadgen.stderr" | tail -1)
    # Until the queues have drained into the buffers.
    last=""
    for ((i = 0; i < 120; i++)); do
      m=$(fetch_metrics "$ADMIN_ADDR")
      b=$(metric "$m" tailtrace_sampler_buffered_bytes)
      [[ -n $b && $b == "$last" ]] && break
      last=$b
      sleep 0.5
    done
    rss1=$(status_kb "$DPID" VmRSS)
    R[mem.buffered_bytes]=$(metric "$m" tailtrace_sampler_buffered_bytes)
    R[mem.buffered_traces]=$(metric "$m" tailtrace_sampler_traces_buffered)
    # Nothing of this run is measured after this point: skip the drain (it would write every
    # buffered span to the store).
    kill -KILL "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    DPID=""
    R[mem.accepted]=$(jget "$lg" spans_accepted)
    R[mem.wire_bytes]=$(jget "$lg" bytes_accepted)
    R[mem.rss_growth]=$(( (rss1 - rss0) * 1024 ))
    if [[ -n ${R[mem.wire_bytes]} && ${R[mem.wire_bytes]} != 0 ]]; then
      R[mem.ratio]=$(calc "${R[mem.rss_growth]} / ${R[mem.wire_bytes]}")
      R[mem.accounted_ratio]=$(calc "${R[mem.buffered_bytes]:-0} / ${R[mem.wire_bytes]}")
    fi
    add_cmd "$(scrub "$cmd")  (config: $(scrub "$MEM_CFG"))"
    R[mem.cmd]=$CMD_INDEX
  else
    R[mem.skipped]="skipped: $DAEMON_ERROR"
  fi
fi

# ---- 2. the floors ----------------------------------------------------------------------------

# run_floor NAME WHAT FLAGS...: one tailtrace-bench-floor run of FLOOR_SPANS spans with FLAGS;
# sets R[NAME.*] (json, per_cpu, wall, stored_bps, cmd, or skipped).
run_floor() {
  local name=$1 what=$2 out
  shift 2
  log "$name: $FLOOR_SPANS spans, $what"
  out=$("$FLOOR" --spans "$FLOOR_SPANS" "$@" 2>"$WORK/$name.stderr" | tail -1)
  R[$name.json]=$out
  R[$name.per_cpu]=$(jget "$out" spans_per_cpu_second)
  R[$name.wall]=$(jget "$out" spans_per_wall_second)
  R[$name.stored_bps]=$(jget "$out" stored_bytes_per_span)
  add_cmd "$(scrub "tailtrace-bench-floor --spans $FLOOR_SPANS $*")"
  R[$name.cmd]=$CMD_INDEX
  if [[ -z ${R[$name.per_cpu]} ]]; then
    R[$name.skipped]="failed: $(tail -2 "$WORK/$name.stderr" | tr '\n' ' ')"
  fi
}
if ((RUN_ROCKSDB)); then
  # The floor (issue 14): what any durable span store must at least do. Then issue 5's floor.
  run_floor floor "ScanExportRequest + LZ4 + an append in the write-ahead log's format" \
    --path "$WORK/floor.log"
  run_floor floor-rocksdb "issue 5's floor: protobuf parse + raw blobs in RocksDB" \
    --mode rocksdb --path "$WORK/floor-rocksdb"
fi

# ---- 3. the sampler alone ---------------------------------------------------------------------

if ((RUN_ROCKSDB)); then
  for s in keep-all p10; do
    log "sampler alone ($s): $SAMPLER_SPANS spans"
    cmd="tailtrace-bench-sampler --spans $SAMPLER_SPANS --sampler $s"
    SM=$("$SAMPLER" --spans "$SAMPLER_SPANS" --sampler "$s" 2>"$WORK/sampler-$s.stderr" | tail -1)
    R[sampler.$s.per_cpu]=$(jget "$SM" spans_per_cpu_second)
    R[sampler.$s.skipped]=$(jget "$SM" skipped)
    R[sampler.$s.kept]=$(jget "$SM" spans_kept)
    R[sampler.$s.spans]=$(jget "$SM" spans)
    R[sampler.$s.heap]=$(jget "$SM" memory_heap_per_wire_byte)
    R[sampler.$s.accounted]=$(jget "$SM" memory_accounted_per_wire_byte)
    add_cmd "$cmd"
    R[sampler.$s.cmd]=$CMD_INDEX
  done
fi

# ---- 4. query ---------------------------------------------------------------------------------

if ((RUN_ROCKSDB)); then
  if [[ -n ${QUERY_STORE:-} ]]; then
    QPATH=$QUERY_STORE
    QREUSE="--reuse"
  else
    QPATH=$WORK/query
    QREUSE=""
  fi
  log "query: a store of $QUERY_SPANS spans (50-span traces), $LOOKUPS lookups, $SEARCHES searches each"
  cmd="tailtrace-bench-query --spans $QUERY_SPANS --build-budget $QUERY_BUILD_BUDGET --lookups $LOOKUPS --searches $SEARCHES --path $(scrub "$QPATH") $QREUSE"
  QR=$("$QUERY" --spans "$QUERY_SPANS" --build-budget "$QUERY_BUILD_BUDGET" --lookups "$LOOKUPS" --searches "$SEARCHES" --path "$QPATH" $QREUSE 2>"$WORK/query.stderr" | tail -1)
  add_cmd "$cmd"
  R[query.cmd]=$CMD_INDEX
  [[ -z $QR ]] && R[query.skipped]="failed: $(tail -3 "$WORK/query.stderr" | tr '\n' ' ')"
fi

# ---- 5. the ClickHouse backend ----------------------------------------------------------------

# storage.backend: clickhouse, each run against a private clickhouse-server started for it alone
# (start_clickhouse, bench/run_lib.sh) and stopped after it: the keep-all and 10% policy ingest
# runs of section 1 (the same workload, spans and config but the store), then the query benchmark
# on a ClickHouse store. The issue sets no targets for them: the table gives figures only, next to
# the RocksDB ones. CLICKHOUSE_RUNS=0 skips the section; a missing server binary skips its runs
# with a note.
CH_DATABASE=bench
# ch_storage_yaml: the storage keys of a ClickHouse run's config (the defaults of flush_interval,
# batch_size and the rest).
ch_storage_yaml() { echo "backend: clickhouse, clickhouse: { endpoint: \"$CH_ENDPOINT\", database: $CH_DATABASE }"; }
# ch_ingest NAME SAMPLING_YAML [all]: run_ingest NAME against a fresh server ("all": keep-all).
ch_ingest() {
  local name=$1
  log "clickhouse ($name): starting a private clickhouse-server"
  if ! start_clickhouse "$name"; then
    R[$name.skipped]="skipped: $CH_ERROR"
    log "clickhouse ($name) ${R[$name.skipped]}"
    return
  fi
  R[ch.version]=$CH_VERSION
  run_ingest "$name" "$(config_file "$name" "$2" "" "" "$(ch_storage_yaml)")" "$INGEST_SPANS" clickhouse "${3:-}"
  stop_clickhouse
}
if [[ $CLICKHOUSE_RUNS == 1 && ! -x $CLICKHOUSE_SERVER ]]; then
  R[ch.skipped]="skipped: $CLICKHOUSE_SERVER is not installed (\`make deps\` installs clickhouse-server; CLICKHOUSE_SERVER=PATH names another binary)"
  log "clickhouse: ${R[ch.skipped]}"
elif [[ $CLICKHOUSE_RUNS == 1 ]]; then
  ch_ingest ch-keepall "" all
  [[ ${CLICKHOUSE_P10:-1} == 1 ]] && ch_ingest ch-p10 "$P10_POLICY"
  log "clickhouse (query): a store of $CLICKHOUSE_QUERY_SPANS spans (50-span traces), $LOOKUPS lookups, $SEARCHES searches each"
  if start_clickhouse ch-query; then
    R[ch.version]=$CH_VERSION
    cmd="tailtrace-bench-query --backend clickhouse --clickhouse-endpoint $CH_ENDPOINT --clickhouse-database $CH_DATABASE --clickhouse-pid \$CLICKHOUSE_SERVER_PID --spans $CLICKHOUSE_QUERY_SPANS --build-budget $CLICKHOUSE_QUERY_BUILD_BUDGET --lookups $LOOKUPS --searches $SEARCHES"
    CHQ=$("$QUERY" --backend clickhouse --clickhouse-endpoint "$CH_ENDPOINT" --clickhouse-database "$CH_DATABASE" \
      --clickhouse-pid "$CH_PID" --spans "$CLICKHOUSE_QUERY_SPANS" --build-budget "$CLICKHOUSE_QUERY_BUILD_BUDGET" \
      --lookups "$LOOKUPS" --searches "$SEARCHES" 2>"$WORK/ch-query.stderr" | tail -1)
    add_cmd "$cmd"
    R[ch-query.cmd]=$CMD_INDEX
    [[ -z $CHQ ]] && R[ch-query.skipped]="failed: $(tail -3 "$WORK/ch-query.stderr" | tr '\n' ' ')"
    stop_clickhouse
  else
    R[ch-query.skipped]="skipped: $CH_ERROR"
    log "clickhouse (query) ${R[ch-query.skipped]}"
  fi
fi

# ---- report -----------------------------------------------------------------------------------

# shellcheck source=bench/run_report.sh
source "$ROOT/bench/run_report.sh"
