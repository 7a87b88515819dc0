# bench/run_lib.sh: the helpers of bench/run.sh, which sources it (it does nothing alone):
# reading JSON lines and /metrics, formatting numbers, targets and verdicts, starting and stopping
# tailtraced, writing its configs, recording commands for the report, free ports, and a private
# clickhouse-server for the ClickHouse section. They use run.sh's globals (WORK, DAEMON, DPID,
# CMDS, CLICKHOUSE_SERVER, ...).

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

# cpu_ticks PID: the daemon's user+sys CPU ticks, less those of its admin threads (tt-admin):
# they serve /metrics, which the bench itself polls every half second to see when a run settled
# (about 10 ms a poll), so they would charge the bench's own watching to the daemon, and three
# times over to a cluster. A thread's name is its /proc comm (common/thread_name.h).
cpu_ticks() {
  local total admin
  total=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null) || return
  admin=$(for t in /proc/"$1"/task/*; do
    [[ $(<"$t/comm") == tt-admin ]] && awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat"
  done 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
  echo $((total - admin))
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
# proc_ticks PID: user+sys CPU ticks of a whole process, all threads (e.g. clickhouse-server).
proc_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null; }

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

# wait_settled TIMEOUT [ADMIN_ADDR...]: until no trace is buffered, the stored span count
# stayed put for two polls 0.5 s apart (SETTLE_STABLE polls when set: a ClickHouse store's write
# can take longer than that) (everything accepted is decided and written) and the store runs no
# flush or compaction and has none due (so the run's CPU includes the compactions its writes
# caused), on every daemon given (default: $ADMIN_ADDR). Sets SETTLED_METRICS (the first daemon's
# /metrics) and SETTLED_ALL (each daemon's, in order).
wait_settled() {
  local deadline=$((SECONDS + $1)) last="" stable=0 m buffered stored jobs all_idle now addr
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
      jobs=$(metric "$m" tailtrace_store_background_jobs)
      [[ $buffered == 0 && -n $stored && ${jobs:-0} == 0 ]] || all_idle=0
      now+="$stored,"
    done
    if ((all_idle)) && [[ $now == "$last" ]]; then
      stable=$((stable + 1))
      if ((stable >= ${SETTLE_STABLE:-2})); then
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

# wait_stored SPANS TIMEOUT: until the daemon at ADMIN_ADDR has stored at least SPANS spans
# (tailtrace_stored_spans_total), polling every 0.5 s; status 1 after TIMEOUT seconds.
wait_stored() {
  local deadline=$((SECONDS + $2)) stored
  while ((SECONDS < deadline)); do
    stored=$(metric "$(fetch_metrics "$ADMIN_ADDR")" tailtrace_stored_spans_total)
    [[ -n $stored ]] && ((stored >= $1)) && return 0
    sleep 0.5
  done
  return 1
}

# config_file NAME EXTRA_SAMPLING_YAML [TOP_LEVEL_YAML [GRPC_ENDPOINT [STORAGE_YAML]]]: a daemon
# config on free ports (the gRPC receiver on GRPC_ENDPOINT when given) with the store (and the
# write-ahead log, on by default) in WORK; STORAGE_YAML adds keys to the storage section (flow
# style, e.g. "backend: clickhouse, clickhouse: {...}").
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
storage: { path: $WORK/$1-data${5:+, $5} }
log: { level: warn }
EOF
  [[ -n ${2:-} ]] && printf 'sampling:\n%s\n' "$2" >>"$f"
  [[ -n ${3:-} ]] && printf '%s\n' "$3" >>"$f"
  echo "$f"
}

# Commands and configs for the report, in order of use.
add_cmd() {
  CMDS+=("$1")
  CMD_INDEX=${#CMDS[@]}
}
# Replaces the temporary directory by a placeholder in reported commands.
scrub() { sed "s#$WORK#\$WORK#g" <<<"$1"; }

# tcp_ports: the local port of every TCP socket on this machine (any address, any state), one a
# line.
tcp_ports() {
  local h
  awk 'FNR > 1 { n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r h; do echo "$((16#$h))"; done
}

# free_port: a TCP port no socket on this machine uses now, below the ephemeral range
# (ip_local_port_range), so that port-0 listeners and outgoing connections do not take it before
# the daemons (or clickhouse-server) bind it. Not a reservation: start_cluster and
# start_clickhouse check the binds and retry.
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

# ---- a private ClickHouse server (run.sh's ClickHouse section) -------------------------------

# Where ch_config finds the private server's config: tests/clickhouse/ (its README.md), which the
# tests fill in too; found from this file, as run.sh finds ROOT.
CH_TEMPLATES=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/clickhouse

# ch_fill NAME OUT [KEY=VALUE...]: writes tests/clickhouse/NAME to OUT with each @KEY@ replaced by
# VALUE; sets CH_ERROR naming the file and returns 1 when it is missing or a placeholder of it
# has no value.
ch_fill() {
  # An empty script first: sed without -e would take the file for its script.
  local file=$CH_TEMPLATES/$1 out=$2 kv value left sed_args=(-e '')
  shift 2
  if [[ ! -r $file ]]; then
    CH_ERROR="the ClickHouse config template $file is missing (tests/clickhouse/README.md says what it holds)"
    return 1
  fi
  for kv in "$@"; do
    value=${kv#*=}
    # What sed's replacement would take for its own: backslash, & and the delimiter.
    value=${value//\\/\\\\}
    value=${value//&/\\&}
    value=${value//|/\\|}
    sed_args+=(-e "s|@${kv%%=*}@|$value|g")
  done
  if ! sed "${sed_args[@]}" "$file" >"$out"; then
    CH_ERROR="could not write $out from $file"
    return 1
  fi
  if left=$(grep -oE -m1 '@[A-Z0-9_]+@' "$out" | head -1) && [[ -n $left ]]; then
    CH_ERROR="the ClickHouse config template $file has $left, which is not filled"
    return 1
  fi
}

# ch_config DIR HTTP_PORT TCP_PORT: config.xml and users.xml of a private server in DIR, the
# tests' (tests/clickhouse/: listening on 127.0.0.1 only, data in DIR, warnings and errors logged
# to DIR, UTC, keep_alive_timeout 1 s so that a stopping server does not wait 10 s for kept-alive
# connections; no query_log or other system log tables, so that the server's CPU is that of
# tailtraced's statements and the merges they cause; the bench uses the user `default`), and
# config.d/bench.xml, which the server merges into config.xml: mark_cache_size as the packaged
# config has it, 5 GiB, not the tests' 5 MB. Sets CH_ERROR and returns 1 when a template is
# missing.
ch_config() {
  ch_fill config.xml "$1/config.xml" DIR="$1" HTTP_PORT="$2" TCP_PORT="$3" LOG_LEVEL=warning &&
    ch_fill users.xml "$1/users.xml" || return 1
  mkdir -p "$1/config.d"
  cat >"$1/config.d/bench.xml" <<'EOF'
<yandex>
  <mark_cache_size>5368709120</mark_cache_size>
</yandex>
EOF
}

# ch_log_tail: the end of the private server's error log and output, on one line.
ch_log_tail() {
  { tail -c 300 "$CH_DIR/err.log"; tail -c 200 "$CH_DIR/stdout.log"; } 2>/dev/null |
    tr '\n' ' ' | sed 's/  */ /g'
}

# start_clickhouse NAME: a private $CLICKHOUSE_SERVER with its config, data and logs in
# WORK/NAME-clickhouse, its HTTP and native ports free on 127.0.0.1, ready once GET /ping answers
# "Ok." (20 s at most), as tests/storage/clickhouse_server.cc starts one. Sets CH_PID, CH_ENDPOINT
# (http://127.0.0.1:PORT), CH_DIR and CH_VERSION, or CH_ERROR and returns 1. A server that exits
# because a port was taken meanwhile starts again on others (3 tries). Call it from run.sh's own
# shell, not a subshell: the server gets SIGKILL when that shell dies (setpriv --pdeathsig), so
# that not even a killed bench leaves it running.
start_clickhouse() {
  local name=$1 attempt http tcp i pdeath=()
  CH_ERROR="" CH_PID="" CH_DIR=$WORK/$1-clickhouse CH_VERSION=""
  if [[ ! -x $CLICKHOUSE_SERVER ]]; then
    CH_ERROR="$CLICKHOUSE_SERVER is not installed (make deps installs clickhouse-server; CLICKHOUSE_SERVER=PATH names another)"
    return 1
  fi
  if ! command -v curl >/dev/null; then
    CH_ERROR="curl is missing (make deps installs it): the bench reaches ClickHouse's HTTP interface with it"
    return 1
  fi
  command -v setpriv >/dev/null && pdeath=(setpriv --pdeathsig KILL)
  for ((attempt = 1; attempt <= 3; attempt++)); do
    if ! http=$(free_port) || ! tcp=$(free_port); then
      CH_ERROR="no free TCP port found for clickhouse-server"
      return 1
    fi
    [[ $http == "$tcp" ]] && continue
    rm -rf "$CH_DIR"
    mkdir -p "$CH_DIR"
    ch_config "$CH_DIR" "$http" "$tcp" || return 1
    (cd "$CH_DIR" && exec "${pdeath[@]}" "$CLICKHOUSE_SERVER" --config-file="$CH_DIR/config.xml") \
      </dev/null >"$CH_DIR/stdout.log" 2>&1 &
    CH_PID=$!
    CH_ENDPOINT=http://127.0.0.1:$http
    for ((i = 0; i < 400; i++)); do
      if [[ $(curl -s --max-time 1 "$CH_ENDPOINT/ping" 2>/dev/null) == Ok. ]]; then
        CH_VERSION=$(ch_query 'SELECT version()')
        return 0
      fi
      kill -0 "$CH_PID" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$CH_PID" 2>/dev/null; then
      stop_clickhouse
      CH_ERROR="$CLICKHOUSE_SERVER did not answer /ping within 20 s: $(ch_log_tail)"
      return 1
    fi
    wait "$CH_PID" 2>/dev/null
    CH_PID=""
    CH_ERROR="$CLICKHOUSE_SERVER exited before answering /ping: $(ch_log_tail)"
    grep -qi 'already in use' "$CH_DIR/err.log" "$CH_DIR/stdout.log" 2>/dev/null || return 1
    log "clickhouse ($name): a port was taken meanwhile; trying others"
  done
  return 1
}

# stop_clickhouse: SIGTERM, 15 s for the server to stop, then SIGKILL. Its directory stays (the
# bench's cleanup removes WORK).
stop_clickhouse() {
  [[ -z ${CH_PID:-} ]] && return 0
  local i
  kill -TERM "$CH_PID" 2>/dev/null
  for ((i = 0; i < 300; i++)); do
    kill -0 "$CH_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$CH_PID" 2>/dev/null && kill -KILL "$CH_PID" 2>/dev/null
  wait "$CH_PID" 2>/dev/null
  CH_PID=""
}

# ch_query SQL: the private server's answer (TabSeparated) to one statement, POSTed to
# CH_ENDPOINT; ClickHouse's error text and status 22 when it refuses it.
ch_query() {
  curl -sS --max-time 600 --fail-with-body --data-binary "$1" "$CH_ENDPOINT/"
}

# ch_await_merges DATABASE TIMEOUT: until no merge of DATABASE's tables runs in two polls 0.5 s
# apart (status 1 after TIMEOUT seconds), so that a run's ClickHouse CPU includes the merges its
# INSERTs caused, as the RocksDB runs' CPU includes their compactions.
ch_await_merges() {
  local deadline=$((SECONDS + $2)) idle=0 n
  while ((SECONDS < deadline)); do
    n=$(ch_query "SELECT count() FROM system.merges WHERE database = '$1'" 2>/dev/null)
    if [[ $n == 0 ]]; then
      idle=$((idle + 1))
      ((idle >= 2)) && return 0
    else
      idle=0
    fi
    sleep 0.5
  done
  return 1
}

# ch_size DATABASE: "BYTES PARTS BY_TABLE" of DATABASE's active parts (system.parts), BY_TABLE as
# table=bytes,... in table order ("-" without any).
ch_size() {
  ch_query "SELECT table, sum(bytes_on_disk), count() FROM system.parts
    WHERE database = '$1' AND active GROUP BY table ORDER BY table" |
    awk -F'\t' '{ b += $2; p += $3; t = t (t == "" ? "" : ",") $1 "=" $2 }
      END { printf "%.0f %.0f %s\n", b, p, (t == "" ? "-" : t) }'
}
