# bench/run_lib.sh: the helpers of bench/run.sh, which sources it (it does nothing alone):
# reading JSON lines and /metrics, formatting numbers, targets and verdicts, starting and stopping
# tailtraced, writing its configs, recording commands for the report. They use run.sh's globals
# (WORK, DAEMON, DPID, CMDS, ...).

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
# stayed put for two polls 0.5 s apart (everything accepted is decided and written) and the store
# runs no flush or compaction and has none due (so the run's CPU includes the compactions its
# writes caused), on every daemon given (default: $ADMIN_ADDR). Sets SETTLED_METRICS (the first
# daemon's /metrics) and SETTLED_ALL (each daemon's, in order).
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
add_cmd() {
  CMDS+=("$1")
  CMD_INDEX=${#CMDS[@]}
}
# Replaces the temporary directory by a placeholder in reported commands.
scrub() { sed "s#$WORK#\$WORK#g" <<<"$1"; }
