#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: every benchmark of bench/README.md, on this machine, in one run.
# Called by `make bench` after the build; builds nothing itself. Writes a results table with the
# exact command and config of every figure to bench/results/latest.md (latest-small.md with
# SMALL=1) and prints it.
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
#                    cluster.compression: none; all spans sent to node 1 so that 2/3 are
#                    forwarded); they listen on 127.0.0.31-33
#   CLUSTER_PAIRS    how many times one node and then the cluster run back to back, per sampling
#                    config (default 3, 1 with SMALL=1); the verdict is on the median ratio
#   CLUSTER_SPANS    spans per cluster run and its single-node partner (default: INGEST_SPANS,
#                    at most 1,000,000)
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
if [[ $SMALL == 1 ]]; then
  : "${INGEST_SPANS:=50000}" "${MEMORY_SPANS:=100000}" "${FLOOR_SPANS:=200000}"
  : "${SAMPLER_SPANS:=200000}" "${QUERY_SPANS:=300000}" "${LOOKUPS:=200}" "${SEARCHES:=30}"
  : "${QUERY_BUILD_BUDGET:=20s}" "${CALIBRATE:=0}" "${CLUSTER_PAIRS:=1}"
  : "${RESULTS:=$ROOT/bench/results/latest-small.md}"
else
  : "${INGEST_SPANS:=2000000}" "${MEMORY_SPANS:=800000}" "${FLOOR_SPANS:=2000000}"
  : "${SAMPLER_SPANS:=1000000}" "${QUERY_SPANS:=10000000}" "${LOOKUPS:=1000}" "${SEARCHES:=100}"
  : "${QUERY_BUILD_BUDGET:=600s}" "${CALIBRATE:=1}" "${CLUSTER_PAIRS:=3}"
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
cleanup() {
  local pid
  for pid in $DPID "${CLUSTER_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in $DPID "${CLUSTER_PIDS[@]}"; do
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

# jget JSON KEY: the value of a top-level key of a flat JSON line (strings without quotes).
jget() {
  local v
  v=$(sed -n "s/.*\"$2\":\(\"\([^\"\\\\]\|\\\\.\)*\"\|[-0-9.eE+][-0-9.eE+]*\|null\|true\|false\).*/\1/p" <<<"$1")
  v=${v#\"}
  v=${v%\"}
  v=${v//\\\"/\"}
  printf '%s' "$v"
}

# fmt VALUE [DECIMALS]: a number with thousands separators (empty stays empty).
fmt() {
  [[ -z ${1:-} || $1 == null ]] && { printf 'n/a'; return; }
  awk -v v="$1" -v d="${2:-0}" 'BEGIN {
    s = sprintf("%." d "f", v); neg = (s ~ /^-/); if (neg) s = substr(s, 2)
    split(s, p, "."); i = p[1]; out = ""
    while (length(i) > 3) { out = "," substr(i, length(i) - 2) out; i = substr(i, 1, length(i) - 3) }
    out = i out; if (d > 0) out = out "." p[2]; if (neg) out = "-" out; print out }'
}

# calc EXPR: floating-point arithmetic.
calc() { awk "BEGIN { v = $1; printf \"%.6f\", v }"; }

# verdict VALUE OP TARGET: "met" / "MISSED" (OP is >= or <=), "n/a" without a value.
verdict() {
  [[ -z ${1:-} || $1 == null || $1 == n/a ]] && { printf 'n/a'; return; }
  awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
    ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "met" : "**MISSED**" }'
}

# tgt OP TARGET [UNIT]: a target as the table shows it, e.g. "≥ 250,000" (OP is >= or <=).
tgt() {
  local sign="≥" v=$2
  [[ $1 == '<=' ]] && sign="≤"
  [[ $v =~ ^[0-9]+$ ]] && v=$(fmt "$v")
  printf '%s %s%s' "$sign" "$v" "${3:-}"
}

# query_verdict WALL_P99 CPU_P99 TARGET: the wall-time verdict, noting when only waiting (not the
# calling thread's own work) put the p99 over the target.
query_verdict() {
  local v
  v=$(verdict "$1" '<=' "$3")
  if [[ $v == "**MISSED**" && $(verdict "$2" '<=' "$3") == met ]]; then
    v="**MISSED** on wall time; CPU-time p99 met (waiting: preemption or I/O)"
  fi
  printf '%s' "$v"
}

# The admin server's /metrics, through bash's /dev/tcp (no curl needed).
fetch_metrics() {
  local host=${1%:*} port=${1##*:}
  exec 3<>"/dev/tcp/$host/$port" || return 1
  printf 'GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" >&3
  timeout 5 cat <&3
  exec 3<&- 3>&-
}
# metric TEXT NAME: the value of an unlabelled sample.
metric() { awk -v n="$2" '$1 == n { printf "%.0f", $2; exit }' <<<"$1"; }
# metric_sum TEXT NAME [LABEL]: the sum of NAME's samples over all labels, or over those whose
# labels contain LABEL (e.g. 'kind="owner"'); empty when there is none.
metric_sum() {
  awk -v n="$2" -v l="${3:-}" '{ name = $1; sub(/\{.*/, "", name) }
    name == n && index($1, l) { s += $2; found = 1 } END { if (found) printf "%.0f", s }' <<<"$1"
}

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# reachable HOST:PORT: a wildcard listen address as a connectable one.
reachable() {
  case $1 in
    0.0.0.0:*) echo "127.0.0.1:${1##*:}" ;;
    "[::]":*) echo "[::1]:${1##*:}" ;;
    *) echo "$1" ;;
  esac
}

# start_daemon NAME CONFIG: starts tailtraced; sets DPID GRPC_ADDR HTTP_ADDR ADMIN_ADDR, or
# DAEMON_ERROR and returns 1.
start_daemon() {
  local out=$WORK/$1.stdout err=$WORK/$1.stderr
  DAEMON_ERROR=""
  "$DAEMON" --config "$2" >"$out" 2>"$err" &
  DPID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    if grep -q '^tailtraced ready' "$out" 2>/dev/null; then
      local line
      line=$(grep '^tailtraced ready' "$out")
      GRPC_ADDR=$(reachable "$(sed -n 's/.* grpc=\([^ ]*\).*/\1/p' <<<"$line")")
      HTTP_ADDR=$(reachable "$(sed -n 's/.* http=\([^ ]*\).*/\1/p' <<<"$line")")
      ADMIN_ADDR=$(reachable "$(sed -n 's/.* admin=\([^ ]*\).*/\1/p' <<<"$line")")
      return 0
    fi
    if ! kill -0 "$DPID" 2>/dev/null; then
      wait "$DPID" 2>/dev/null
      DAEMON_ERROR=$(grep -v '^\s*$' "$err" | head -5 | tr '\n' ' ' | cut -c1-400)
      [[ -z $DAEMON_ERROR ]] && DAEMON_ERROR="tailtraced exited before it was ready"
      DPID=""
      return 1
    fi
    sleep 0.1
  done
  DAEMON_ERROR="tailtraced was not ready within 30 s"
  stop_daemon
  return 1
}

# stop_daemon: SIGTERM, wait up to 120 s for the drain, then SIGKILL.
stop_daemon() {
  [[ -z $DPID ]] && return 0
  kill -TERM "$DPID" 2>/dev/null
  await_exit "$DPID"
  DPID=""
}

# await_exit PID: waits up to 120 s for a daemon sent SIGTERM, then SIGKILLs it; sets STOP_STATUS.
await_exit() {
  local i
  for ((i = 0; i < 1200; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then
    log "tailtraced (pid $1) did not exit within 120 s of SIGTERM; killing it"
    kill -KILL "$1" 2>/dev/null
  fi
  wait "$1" 2>/dev/null
  STOP_STATUS=$?
}

# wait_settled TIMEOUT [ADMIN_ADDR...]: until no trace is buffered and the stored span count
# stayed put for two polls 0.5 s apart (everything accepted is decided and written), on every
# daemon given (default: $ADMIN_ADDR). Sets SETTLED_METRICS (the first daemon's /metrics) and
# SETTLED_ALL (each daemon's, in order).
wait_settled() {
  local deadline=$((SECONDS + $1)) last="" stable=0 m buffered stored all_idle now addr
  shift
  local addrs=("$@")
  ((${#addrs[@]})) || addrs=("$ADMIN_ADDR")
  while ((SECONDS < deadline)); do
    SETTLED_ALL=()
    all_idle=1
    now=""
    for addr in "${addrs[@]}"; do
      m=$(fetch_metrics "$addr")
      SETTLED_ALL+=("$m")
      buffered=$(metric "$m" tailtrace_sampler_traces_buffered)
      stored=$(metric "$m" tailtrace_stored_spans_total)
      [[ $buffered == 0 && -n $stored ]] || all_idle=0
      now+="$stored,"
    done
    if ((all_idle)) && [[ $now == "$last" ]]; then
      stable=$((stable + 1))
      if ((stable >= 2)); then
        SETTLED_METRICS=${SETTLED_ALL[0]}
        return 0
      fi
    else
      stable=0
    fi
    last=$now
    sleep 0.5
  done
  SETTLED_ALL=()
  for addr in "${addrs[@]}"; do SETTLED_ALL+=("$(fetch_metrics "$addr")"); done
  SETTLED_METRICS=${SETTLED_ALL[0]}
  return 1
}

# config_file NAME EXTRA_SAMPLING_YAML [TOP_LEVEL_YAML [GRPC_ENDPOINT]]: a daemon config on free
# ports (the gRPC receiver on GRPC_ENDPOINT when given) with the store (and the write-ahead log,
# on by default) in WORK.
config_file() {
  local f=$WORK/$1.yaml
  cat >"$f" <<EOF
receivers:
  otlp:
    protocols:
      grpc: { endpoint: ${4:-127.0.0.1:0} }
      http: { endpoint: 127.0.0.1:0 }
query: { endpoint: 127.0.0.1:0 }
admin: { endpoint: 127.0.0.1:0 }
storage: { path: $WORK/$1-data }
log: { level: warn }
EOF
  [[ -n ${2:-} ]] && printf 'sampling:\n%s\n' "$2" >>"$f"
  [[ -n ${3:-} ]] && printf '%s\n' "$3" >>"$f"
  echo "$f"
}

# Commands and configs for the report, in order of use.
CMDS=()
add_cmd() {
  CMDS+=("$1")
  CMD_INDEX=${#CMDS[@]}
}
# Replaces the temporary directory by a placeholder in reported commands.
scrub() { sed "s#$WORK#\$WORK#g" <<<"$1"; }

LOADGEN_COMMON="--protocol grpc --connections 2 --inflight 4 $LOADGEN_FLAGS"

mkdir -p "$(dirname "$RESULTS")"

# ---- 1. ingest end-to-end ---------------------------------------------------------------------

# run_ingest NAME CONFIG SPANS [quick]: sets R[NAME.*]; "quick" skips measuring the store on disk
# (which compacts it) when only the CPU figures are wanted.
declare -A R
run_ingest() {
  local name=$1 cfg=$2 spans=$3 quick=${4:-}
  log "ingest ($name): $spans spans over OTLP/gRPC"
  if ! start_daemon "$name" "$cfg"; then
    R[$name.skipped]="skipped: $DAEMON_ERROR"
    log "ingest ($name) ${R[$name.skipped]}"
    return
  fi
  local pid=$DPID
  local c0 c1 t0 t1 lg
  c0=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  local cmd="tailtrace-loadgen --target $GRPC_ADDR $LOADGEN_COMMON --spans $spans"
  lg=$("$LOADGEN" --target "$GRPC_ADDR" $LOADGEN_COMMON --spans "$spans" 2>"$WORK/$name.loadgen.stderr" | tail -1)
  if ! wait_settled 120; then
    R[$name.note]="the pipeline did not settle within 120 s after the load (figures taken then)"
  fi
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  local hwm
  hwm=$(status_kb "$pid" VmHWM)
  local m=$SETTLED_METRICS
  R[$name.stored_spans]=$(metric "$m" tailtrace_stored_spans_total)
  R[$name.metric_disk]=$(metric "$m" tailtrace_store_disk_bytes)
  stop_daemon
  R[$name.exit]=$STOP_STATUS
  R[$name.du]=$(du -sb "$WORK/$name-data" | cut -f1)
  local st=""
  [[ $quick == quick ]] ||
    st=$("$STORETOOL" --path "$WORK/$name-data" --breakdown 2>"$WORK/$name.storetool.stderr" | tail -1)
  R[$name.storetool]=$st
  R[$name.sst_flushed]=$(jget "$st" sst_bytes_before)
  R[$name.sst_compacted]=$(jget "$st" sst_bytes_after_compaction)
  R[$name.compact_s]=$(jget "$st" compact_seconds)
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
  R[$name.hwm_mb]=$(calc "${hwm:-0} / 1024")
  add_cmd "$(scrub "$cmd")  (config: $(scrub "$cfg"))"
  R[$name.cmd]=$CMD_INDEX
  if [[ -z ${R[$name.accepted]} || ${R[$name.accepted]} == 0 ]]; then
    R[$name.skipped]="failed: loadgen: $(tail -3 "$WORK/$name.loadgen.stderr" | tr '\n' ' ' | cut -c1-300)"
    return
  fi
  R[$name.per_cpu]=$(calc "${R[$name.accepted]} / (${R[$name.cpu_s]} > 0 ? ${R[$name.cpu_s]} : 1e-9)")
  local stored=${R[$name.stored_spans]:-0}
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
run_ingest keepall "$KEEPALL_CFG" "$INGEST_SPANS"
run_ingest p10 "$P10_CFG" "$INGEST_SPANS"
# The write-ahead log's cost: the runs above have it on (the default, fsync off); these turn it
# off and turn fsync on. WAL_RUNS=0 skips them.
if [[ ${WAL_RUNS:-1} == 1 ]]; then
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

# tcp_ports: the local port of every TCP socket on this machine (any address, any state), one a
# line.
tcp_ports() {
  local h
  awk 'FNR > 1 { n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r h; do echo "$((16#$h))"; done
}

# free_port: a TCP port no socket on this machine uses now, below the ephemeral range
# (ip_local_port_range), so that port-0 listeners and outgoing connections do not take it before
# the daemons bind it. Not a reservation: start_cluster checks the binds and retries.
free_port() {
  local lo=32768 hi=60999 used p i
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  used=" $(tcp_ports | tr '\n' ' ')"
  for ((i = 0; i < 200; i++)); do
    if ((lo > 2048)); then
      p=$((1024 + (RANDOM * 32768 + RANDOM) % (lo - 1024)))
    else
      p=$((hi + 1 + (RANDOM * 32768 + RANDOM) % (65535 - hi)))
    fi
    [[ $used == *" $p "* ]] || { echo "$p"; return 0; }
  done
  return 1
}

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
if [[ ${CLUSTER_RUNS:-1} == 1 ]]; then
  for ((k = 1; k <= CLUSTER_PAIRS; k++)); do
    run_ingest "single-keepall-$k" "$(config_file "single-keepall-$k" "")" "$CLUSTER_SPANS" quick
    run_cluster "cluster-keepall-$k" "" "$CLUSTER_SPANS"
    run_ingest "single-p10-$k" "$(config_file "single-p10-$k" "$P10_POLICY")" "$CLUSTER_SPANS" quick
    run_cluster "cluster-p10-$k" "$P10_POLICY" "$CLUSTER_SPANS"
  done
  run_cluster cluster-p10-plain "$P10_POLICY" "$CLUSTER_SPANS" "compression: none"
fi

# ---- 1b. memory per buffered span (nothing decided while loading) ----------------------------

MEM_SAMPLING='  decision_wait: 1h
  decision_wait_after_root_received: 1h
  max_buffer_bytes: 16GiB'
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
# The floor (issue 14): what any durable span store must at least do. Then issue 5's floor.
run_floor floor "ScanExportRequest + LZ4 + an append in the write-ahead log's format" \
  --path "$WORK/floor.log"
run_floor floor-rocksdb "issue 5's floor: protobuf parse + raw blobs in RocksDB" \
  --mode rocksdb --path "$WORK/floor-rocksdb"

# ---- 3. the sampler alone ---------------------------------------------------------------------

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

# ---- 4. query ---------------------------------------------------------------------------------

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

# ---- report -----------------------------------------------------------------------------------

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_TOTAL=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
GIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -1) ]]; then GIT="$GIT (with uncommitted changes)"; fi
WIRE=${R[keepall.wire]:-$(jget "${R[floor.json]}" wire_bytes_per_span)}

# row FIGURE VALUE TARGET VERDICT CMD_INDEX
ROWS=""
row() { ROWS+="| $1 | $2 | $3 | $4 | [$5] |"$'\n'; }

for name in keepall p10; do
  label="keep-all"
  [[ $name == p10 ]] && label="10% probabilistic policy"
  c=${R[$name.cmd]:-?}
  if [[ -n ${R[$name.skipped]:-} ]]; then
    row "Ingest, $label" "${R[$name.skipped]}" "" "" "$c"
    continue
  fi
  if [[ $name == keepall ]]; then
    target=$T_KEEPALL_PER_CPU target_text="$(tgt '>=' "$T_KEEPALL_PER_CPU") (aim $(fmt "$T_KEEPALL_AIM"))"
  else
    target=$T_P10_PER_CPU target_text=$(tgt '>=' "$T_P10_PER_CPU")
  fi
  row "Ingest, $label: spans per daemon CPU-second" "**$(fmt "${R[$name.per_cpu]}")** ($(fmt "${R[$name.accepted]}") spans / $(fmt "${R[$name.cpu_s]}" 2) CPU-s user+sys)" "$target_text" "$(verdict "${R[$name.per_cpu]}" '>=' "$target")" "$c"
  row "Ingest, $label: wall throughput while sending" "$(fmt "${R[$name.wall_rate]}") spans/s" "" "" "$c"
  row "Ingest, $label: request latency p50 / p99 (512 spans)" "$(fmt "${R[$name.p50]}" 2) / $(fmt "${R[$name.p99]}" 2) ms" "" "" "$c"
  row "Ingest, $label: refusals retried (UNAVAILABLE) / spans given up" "${R[$name.retries]:-0} retries ${R[$name.errors]:+(${R[$name.errors]})} / ${R[$name.failed]:-0}" "" "" "$c"
  row "Ingest, $label: daemon peak RSS (VmHWM)" "$(fmt "${R[$name.hwm_mb]}") MiB" "" "" "$c"
  row "Ingest, $label: spans stored" "$(fmt "${R[$name.stored_spans]}")" "" "" "$c"
  row "Ingest, $label: bytes on disk per stored span, after the shutdown flush (SST files)" "$(fmt "${R[$name.bps_flushed]:-}" 1)" "$(tgt '<=' "$T_DISK_FLUSHED")" "$(verdict "${R[$name.bps_flushed]:-}" '<=' "$T_DISK_FLUSHED")" "$c"
  row "Ingest, $label: bytes on disk per stored span, after a full compaction" "$(fmt "${R[$name.bps_compacted]:-}" 1)" "$(tgt '<=' "$T_DISK_COMPACTED")" "$(verdict "${R[$name.bps_compacted]:-}" '<=' "$T_DISK_COMPACTED")" "$c"
  [[ -n ${R[$name.note]:-} ]] && row "Ingest, $label: note" "${R[$name.note]}" "" "" "$c"
done

# wal_row LABEL BASE: the write-ahead log's cost for one workload, as spans per daemon CPU-second
# with the log off / on / on with fsync, and each as a ratio to off.
wal_row() {
  local label=$1 base=$2 off=$2-nowal sync=$2-fsync
  [[ -z ${R[$off.per_cpu]:-} || -z ${R[$base.per_cpu]:-} || -z ${R[$sync.per_cpu]:-} ]] && return
  local on_ratio sync_ratio
  on_ratio=$(calc "${R[$base.per_cpu]} / ${R[$off.per_cpu]}")
  sync_ratio=$(calc "${R[$sync.per_cpu]} / ${R[$off.per_cpu]}")
  row "Write-ahead log, $label: spans per daemon CPU-s, log off / on / on with fsync (ratio to off)" "$(fmt "${R[$off.per_cpu]}") / **$(fmt "${R[$base.per_cpu]}")** ($(fmt "$on_ratio" 2)) / $(fmt "${R[$sync.per_cpu]}") ($(fmt "$sync_ratio" 2))" "on $(tgt '>=' "$T_WAL_ON") of off" "$(verdict "$on_ratio" '>=' "$T_WAL_ON")" "${R[$off.cmd]}, ${R[$base.cmd]}, ${R[$sync.cmd]}"
  row "Write-ahead log, $label: wall throughput / request latency p99, off / on / fsync" "$(fmt "${R[$off.wall_rate]}") / $(fmt "${R[$base.wall_rate]}") / $(fmt "${R[$sync.wall_rate]}") spans/s; $(fmt "${R[$off.p99]}" 2) / $(fmt "${R[$base.p99]}" 2) / $(fmt "${R[$sync.p99]}" 2) ms" "" "" "${R[$off.cmd]}, ${R[$base.cmd]}, ${R[$sync.cmd]}"
}
wal_row keep-all keepall
wal_row "10% policy" p10

# median VALUES...: the median of the numbers given (empty without any).
median() {
  printf '%s\n' "$@" | grep . | sort -g |
    awk '{ a[NR] = $1 } END { if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# cluster_pair_notes NAME: a cluster run's refusals, unsettled state or exit statuses, if any.
cluster_pair_notes() {
  local name=$1 notes=${R[$1.note]:-}
  [[ ${R[$name.retries]:-0} != 0 || ${R[$name.failed]:-0} != 0 ]] &&
    notes+="${notes:+; }${R[$name.retries]} refusals retried ${R[$name.errors]:+(${R[$name.errors]})}, ${R[$name.failed]:-0} spans given up"
  [[ ${R[$name.exit]:-0/0/0} != 0/0/0 ]] && notes+="${notes:+; }exit statuses ${R[$name.exit]}"
  printf '%s' "$notes"
}

# cluster_rows LABEL MODE: the CLUSTER_PAIRS pairs of one node (single-MODE-K) and the 3-node
# cluster (cluster-MODE-K), run back to back with the same sampling config. The verdict is on the
# median pair's ratio: one node's spans per CPU-second / the cluster's.
cluster_rows() {
  local label=$1 mode=$2 k single name ratio ratios=() pairs="" cmds="" shares="" stored=""
  local stored_ok=met notes="" n
  for ((k = 1; k <= CLUSTER_PAIRS; k++)); do
    single=single-$mode-$k name=cluster-$mode-$k
    [[ -n ${R[$name.cmd]:-}${R[$name.skipped]:-} ]] || continue
    cmds+="${cmds:+, }${R[$single.cmd]:-?}, ${R[$name.cmd]:-?}"
    if [[ -n ${R[$name.skipped]:-}${R[$single.skipped]:-} ]]; then
      pairs+="${pairs:+; }pair $k: ${R[$single.skipped]:-}${R[$name.skipped]:-}"
      continue
    fi
    ratio=$(calc "${R[$single.per_cpu]} / ${R[$name.per_cpu]}")
    ratios+=("$ratio")
    pairs+="${pairs:+; }$(fmt "$ratio" 2) ($(fmt "${R[$single.per_cpu]}") / $(fmt "${R[$name.per_cpu]}"))"
    shares+="${shares:+, }$(fmt "$(calc "100 * ${R[$name.forwarded_share]}")" 1)% ($(fmt "${R[$name.handover]}") handed over)"
    stored+="${stored:+; }${R[$name.stored_per_node]} = $(fmt "${R[$name.stored_spans]}")"
    if [[ $mode == keepall ]]; then
      stored+=" of $(fmt "${R[$name.accepted]}") accepted"
      [[ ${R[$name.stored_spans]} == "${R[$name.accepted]}" ]] || stored_ok="**MISSED**"
    else
      stored+=" (one node: $(fmt "${R[$single.stored_spans]}"))"
    fi
    n=$(cluster_pair_notes "$name")
    [[ -n $n ]] && notes+="${notes:+; }pair $k: $n"
  done
  [[ -n $cmds ]] || return
  local mid
  mid=$(median "${ratios[@]}")
  row "Cluster of 3, $label: CPU per span relative to one node, median of ${#ratios[@]} pairs run back to back (each: ratio (one node / cluster, spans per CPU-s of the daemons))" \
    "**$(fmt "$mid" 2)**; $pairs" "$(tgt '<=' "$T_CLUSTER_RATIO")" "$(verdict "$mid" '<=' "$T_CLUSTER_RATIO")" "$cmds"
  local target="" check=""
  [[ $mode == keepall ]] && target="stored = accepted" check=$stored_ok
  row "Cluster of 3, $label: forwarded share; spans stored per node = sum, per pair" \
    "$shares; $stored" "$target" "$check" "$cmds"
  [[ -n $notes ]] && row "Cluster of 3, $label: note" "$notes" "" "" "$cmds"
}
cluster_rows keep-all keepall
cluster_rows "10% policy" p10

# The 10% policy with `cluster.compression: none`, against the last single-node 10% run: what the
# gzip costs. No verdict: the target is about the default config.
plain_row() {
  local name=cluster-p10-plain single=single-p10-$CLUSTER_PAIRS
  [[ -n ${R[$name.cmd]:-}${R[$name.skipped]:-} ]] || return
  if [[ -n ${R[$name.skipped]:-}${R[$single.skipped]:-} || -z ${R[$single.per_cpu]:-} ]]; then
    row "Cluster of 3, 10% policy, \`compression: none\`" "${R[$name.skipped]:-no single-node figure}" "" "" "${R[$name.cmd]:-?}"
    return
  fi
  local ratio
  ratio=$(calc "${R[$single.per_cpu]} / ${R[$name.per_cpu]}")
  row "Cluster of 3, 10% policy, \`compression: none\`: CPU per span relative to one node (one node / cluster)" \
    "$(fmt "$ratio" 2) ($(fmt "${R[$single.per_cpu]}") / $(fmt "${R[$name.per_cpu]}"))" "(not the default config)" "" "${R[$single.cmd]}, ${R[$name.cmd]}"
}
plain_row

# floor_rows: the floor and the ingest runs' ratios to it, then issue 5's floor as a second line.
floor_rows() {
  local ratio c=${R[floor.cmd]} c5=${R[floor-rocksdb.cmd]}
  if [[ -n ${R[floor.skipped]:-} ]]; then
    row "Floor" "${R[floor.skipped]}" "" "" "$c"
  else
    row "Floor: ScanExportRequest + the store's codec (LZ4, 64 KiB blocks) + an append in the write-ahead log's format, not synced (the log's default); spans per CPU-second" "**$(fmt "${R[floor.per_cpu]}")** ($(fmt "${R[floor.wall]}") per wall-s; $(fmt "${R[floor.stored_bps]}" 1) bytes appended per span)" "" "" "$c"
    if [[ -n ${R[keepall.per_cpu]:-} ]]; then
      ratio=$(calc "${R[keepall.per_cpu]} / ${R[floor.per_cpu]}")
      row "Ratio ingest keep-all / floor" "**$(fmt "$ratio" 2)**" "$(tgt '>=' "$T_KEEPALL_FLOOR")" "$(verdict "$ratio" '>=' "$T_KEEPALL_FLOOR")" "${R[keepall.cmd]}, $c"
    fi
    if [[ -n ${R[p10.per_cpu]:-} ]]; then
      ratio=$(calc "${R[p10.per_cpu]} / ${R[floor.per_cpu]}")
      row "Ratio ingest 10% policy / floor" "$(fmt "$ratio" 2)" "" "" "${R[p10.cmd]}, $c"
    fi
  fi
  if [[ -n ${R[floor-rocksdb.skipped]:-} ]]; then
    row "Floor of issue 5" "${R[floor-rocksdb.skipped]}" "" "" "$c5"
    return
  fi
  local versus=""
  if [[ -n ${R[keepall.per_cpu]:-} ]]; then
    versus="; ingest keep-all / this floor $(fmt "$(calc "${R[keepall.per_cpu]} / ${R[floor-rocksdb.per_cpu]}")" 2)"
  fi
  row "Floor of issue 5 (the old yardstick): protobuf parse + raw blobs by trace ID in RocksDB; spans per CPU-second" "$(fmt "${R[floor-rocksdb.per_cpu]}") ($(fmt "${R[floor-rocksdb.wall]}") per wall-s$versus)" "" "" "$c5"
}
floor_rows

if [[ -n ${R[mem.skipped]:-} ]]; then
  row "Buffered spans in memory (daemon)" "${R[mem.skipped]}" "" "" "${R[mem.cmd]:-?}"
else
  row "Buffered spans in memory (daemon): RSS growth / wire bytes, $(fmt "${R[mem.accepted]}") spans held" "**$(fmt "${R[mem.ratio]:-}" 2)×** ($(fmt "$(calc "${R[mem.rss_growth]} / 1048576")") MiB for $(fmt "$(calc "${R[mem.wire_bytes]:-0} / 1048576")") MiB)" "$(tgt '<=' "$T_MEMORY_RATIO" ×)" "$(verdict "${R[mem.ratio]:-}" '<=' "$T_MEMORY_RATIO")" "${R[mem.cmd]}"
  row "Buffered spans in memory (daemon): the sampler's own byte accounting / wire bytes" "$(fmt "${R[mem.accounted_ratio]:-}" 2)×" "" "" "${R[mem.cmd]}"
fi
for s in keep-all p10; do
  c=${R[sampler.$s.cmd]}
  if [[ -n ${R[sampler.$s.skipped]:-} ]]; then
    row "Sampler alone ($s)" "skipped: ${R[sampler.$s.skipped]}" "" "" "$c"
    continue
  fi
  row "Sampler alone ($s): spans per CPU-second, one core (ShardCore Add + DecideDue + freeing decided traces)" "**$(fmt "${R[sampler.$s.per_cpu]}")** ($(fmt "${R[sampler.$s.kept]}") of $(fmt "${R[sampler.$s.spans]}") spans kept)" "millions (issue 3): $(tgt '>=' "$T_SAMPLER_PER_CPU")" "$(verdict "${R[sampler.$s.per_cpu]}" '>=' "$T_SAMPLER_PER_CPU")" "$c"
  if [[ $s == keep-all ]]; then
    row "Buffered spans in memory (ShardCore alone): heap bytes / wire bytes" "**$(fmt "${R[sampler.$s.heap]}" 2)×** (the shard accounts $(fmt "${R[sampler.$s.accounted]}" 2)×)" "$(tgt '<=' "$T_MEMORY_RATIO" ×)" "$(verdict "${R[sampler.$s.heap]}" '<=' "$T_MEMORY_RATIO")" "$c"
  fi
done

c=${R[query.cmd]}
if [[ -n ${R[query.skipped]:-} ]]; then
  row "Query" "${R[query.skipped]}" "" "" "$c"
else
  qspans=$(jget "$QR" spans)
  qplanned=$(jget "$QR" planned_spans)
  qsize="$(fmt "$qspans") spans ($(fmt "$(jget "$QR" traces)") traces of 50 spans)"
  if [[ $qspans != "$qplanned" ]]; then
    qsize+=", of $(fmt "$qplanned") planned: the build stopped at its QUERY_BUILD_BUDGET of $QUERY_BUILD_BUDGET"
  fi
  qreused=0
  [[ $(jget "$QR" reused) == true ]] && qreused=1
  ((qreused)) && qsize+=" (reused store)"
  row "Query store size" "$qsize" "$(tgt '>=' "$T_QUERY_SPANS" " spans"), or a stated smaller store" "$(verdict "$qspans" '>=' "$T_QUERY_SPANS")" "$c"
  if ((!qreused)); then
    qw=$(jget "$QR" build_write_cpu_seconds)
    row "Query store build: spans per CPU-second of the benchmark process, trace generation and RocksDB background work included ($(jget "$QR" build_writers) writer threads, $(jget "$QR" build_batch_traces) traces per Write; starts over $(jget "$QR" start_span_minutes) min, $(jget "$QR" build_clock) clock)" "$(fmt "$(jget "$QR" build_spans_per_cpu_second)") ($(fmt "$(jget "$QR" build_wall_seconds)" 1) s wall = $(fmt "$(jget "$QR" build_spans_per_wall_second)") spans/s; $(fmt "$(jget "$QR" build_cpu_seconds)" 1) CPU-s, of which $(fmt "$(jget "$QR" build_generate_cpu_seconds)" 1) generating traces and $(fmt "$qw" 1) in Write = $(fmt "$(calc "$qspans / ($qw + 0.000001)")") spans per Write CPU-s)" "" "" "$c"
  fi
  row "Query store: bytes on disk per span (compacted)" "$(fmt "$(jget "$QR" disk_bytes_per_span)" 1)" "$(tgt '<=' "$T_DISK_COMPACTED")" "$(verdict "$(jget "$QR" disk_bytes_per_span)" '<=' "$T_DISK_COMPACTED")" "$c"
  qrow() {  # KEY LABEL TARGET_MS
    local key=$1 label=$2 target=$3 sk
    sk=$(jget "$QR" "${key}_skipped")
    if [[ -n $sk ]]; then
      row "$label" "skipped: $sk" "" "" "$c"
      return
    fi
    local p50 p99 cpu99 avg req
    p50=$(jget "$QR" "${key}_p50_ms")
    p99=$(jget "$QR" "${key}_p99_ms")
    cpu99=$(jget "$QR" "${key}_cpu_p99_ms")
    avg=$(jget "$QR" "${key}_avg_results")
    req=$(jget "$QR" "${key}_request")
    row "$label${req:+ \`$req\`}" "p50 $(fmt "$p50" 3) ms, p99 **$(fmt "$p99" 3) ms** (CPU time p99 $(fmt "$cpu99" 3) ms; $(fmt "$avg" 1) results avg)" "p99 $(tgt '<=' "$target" " ms")" "$(query_verdict "$p99" "$cpu99" "$target")" "$c"
  }
  qrow get_trace "Trace by ID, 50 spans: TraceStore::GetTrace" "$T_TRACE_P99_MS"
  qrow api_get_trace "Trace by ID, 50 spans: Jaeger API (in process, JSON included)" "$T_TRACE_P99_MS"
  qrow find_service_min_duration "Search service + minDuration 2s, limit 20: TraceStore::FindTraces" "$T_SEARCH_P99_MS"
  qrow api_search_service_min_duration "Search service + minDuration 2s, limit 20: Jaeger API" "$T_SEARCH_P99_MS"
  qrow find_service_attribute "Search service + attribute (user.id), limit 20: TraceStore::FindTraces" "$T_SEARCH_P99_MS"
  qrow api_search_service_attribute "Search service + attribute (user.id), limit 20: Jaeger API" "$T_SEARCH_P99_MS"
  qrow find_time_only "Search time only (15 min window), limit 20: TraceStore::FindTraces" "$T_SEARCH_P99_MS"
  qrow api_search_time_only "Search time only (15 min window), limit 20: API" "$T_SEARCH_P99_MS"
fi

# Where the bytes of the keep-all ingest store go, per key space (storage/keys.h).
BREAKDOWN=""
st=${R[keepall.storetool]:-}
stored=${R[keepall.stored_spans]:-0}
if [[ -n $st && $stored -gt 0 && -n $(jget "$st" key_spaces) ]]; then
  BREAKDOWN+="| Key space | What (storage/keys.h) | Keys per span | Raw key+value bytes per span | Disk bytes per span (compacted, approx.) |"$'\n'
  BREAKDOWN+="|---|---|---|---|---|"$'\n'
  IFS=, read -r -a spaces <<<"$(jget "$st" key_spaces)"
  for ks in "${spaces[@]}"; do
    case $ks in
      T) what="span chunks" ;;
      S) what="trace summaries" ;;
      s) what="service names" ;;
      o) what="operation names" ;;
      D) what="dependency counts" ;;
      G) what="index segments: trace tables" ;;
      U) what="index segments: markers of unsealed traces" ;;
      I.t) what="postings: time (+ duration ranges)" ;;
      I.s) what="postings: service (+ duration ranges)" ;;
      I.o) what="postings: service + operation (+ duration ranges)" ;;
      I.a) what="postings: service + tag" ;;
      I.A) what="postings: tag (any service)" ;;
      *) what="" ;;
    esac
    keys=$(jget "$st" "ks_${ks}_keys")
    raw=$(calc "($(jget "$st" "ks_${ks}_key_bytes") + $(jget "$st" "ks_${ks}_value_bytes")) / $stored")
    disk=$(calc "$(jget "$st" "ks_${ks}_disk_bytes") / $stored")
    BREAKDOWN+="| \`$ks\` | $what | $(fmt "$(calc "$keys / $stored")" 2) | $(fmt "$raw" 1) | $(fmt "$disk" 1) |"$'\n'
  done
fi

{
  echo "# tailtraced benchmark results"
  echo
  echo "Produced by \`make bench\` (bench/run.sh$([[ $SMALL == 1 ]] && echo ', SMALL=1: reduced sizes')) on $(date -u '+%Y-%m-%d %H:%M UTC'), tree at $GIT."
  echo
  echo "**Machine:** $(nproc) CPUs ($CPU_MODEL), $MEM_TOTAL RAM, $(uname -sr). Every process shares these"
  echo "cores: the load generator runs next to the daemon, so wall throughput is bounded by both; the"
  echo "per-CPU-second figures count the daemon's (or the benchmark process's) own CPU time only."
  echo
  echo "**Workload** (the canonical one of issue 5): $(jget "${R[floor.json]}" workload) —"
  echo "10 services, 20 spans per trace (50 in the query store), 10 attributes per span, $(fmt "$WIRE" 1) bytes per"
  echo "span on the wire, 512 spans per request (one service per request, as an SDK exporter sends"
  echo "them), 5% failed and 2% slow traces; OTLP/gRPC, 2 connections with 4 requests in flight each."
  echo
  echo "Ingest size: $INGEST_NOTE."
  echo
  echo "| Figure | Value | Target | Verdict | Command |"
  echo "|---|---|---|---|---|"
  printf '%s' "$ROWS"
  if [[ -n $BREAKDOWN ]]; then
    echo
    echo "### Bytes on disk by key space (keep-all ingest store, after the full compaction)"
    echo
    echo "From \`tailtrace-bench-storetool --breakdown\` (key counts and raw sizes by iteration,"
    echo "disk bytes from RocksDB's GetApproximateSizes), divided by the $(fmt "$stored") spans stored."
    echo
    printf '%s' "$BREAKDOWN"
  fi
  echo
  echo "## Commands"
  echo
  echo "Binaries are in \`$BUILD_DIR/bench/\` and \`$BUILD_DIR/daemon/\`; \`\$WORK\` is a temporary directory."
  echo
  for i in "${!CMDS[@]}"; do
    entry=${CMDS[$i]}
    extra=""
    if [[ $entry == *"  (config: "* ]]; then
      extra=" with config \`${entry#*  (config: }"
      extra="${extra%)}\`"
    fi
    echo "$((i + 1)). \`${entry%%  (config: *}\`$extra"
  done
  echo
  echo "## Configs"
  for f in keepall p10 memory cluster-keepall-1-1; do
    [[ -f $WORK/$f.yaml ]] || continue
    echo
    echo "\`\$WORK/$f.yaml\`:"
    echo '```yaml'
    scrub "$(cat "$WORK/$f.yaml")"
    echo '```'
  done
  echo
  if [[ -f $WORK/cluster-keepall-1-1.yaml ]]; then
    echo
    echo "The cluster's nodes 2 and 3 differ from node 1 only in \`self\`, the gRPC endpoint (127.0.0.32,"
    echo "127.0.0.33) and the store path; the 10% policy cluster adds the p10 config's \`sampling\` section,"
    echo "and its \`compression: none\` run also \`compression: none\` in the \`cluster\` section."
  fi
  echo
  echo "Ingest: the daemon's CPU time (utime+stime from /proc/PID/stat) is read after it is ready and"
  echo "again once every accepted span is decided and written (no trace buffered, stored-span count"
  echo "steady), so it covers receiving, sampling and storing every span, and not start-up or"
  echo "shutdown. Bytes per span: the SST files of the store divided by the spans stored, as the"
  echo "daemon left them after its shutdown flush, and after tailtrace-bench-storetool compacted"
  echo "every column family (bottommost ZSTD). See bench/README.md for what each figure means."
  echo
  echo "Floor: spans per CPU-second of tailtrace-bench-floor's whole process (getrusage): one thread"
  echo "scans each request (ScanExportRequest), compresses its resource, scope and span bytes with LZ4"
  echo "in 64 KiB blocks (the store's span chunks as flushed) and appends them as one write-ahead-log"
  echo "frame, without fdatasync (the log's default). Issue 5's floor (--mode rocksdb) follows it."
  if [[ -f $WORK/cluster-keepall-1-1.yaml ]]; then
    echo
    echo "Cluster of 3: the same workload ($(fmt "$CLUSTER_SPANS") spans) sent to node 1 of three nodes on this"
    echo "machine, $CLUSTER_JOIN_WAIT_S s after the last was ready (once their joining, which lasts decision_wait,"
    echo "was over); the CPU time of the three daemons from then until all three settled. Each cluster run"
    echo "follows a one-node run of the same spans and config (measured as the ingest runs); ratio = one"
    echo "node's spans per CPU-second / the cluster's (= the cluster's CPU per span / one node's)."
  fi
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cat "$RESULTS"
log "results written to $RESULTS"
