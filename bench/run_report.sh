# bench/run_report.sh: the results table of bench/run.sh, which sources it after every run (it
# does nothing alone): one row per figure from R[...], with the targets T_* (run.sh) as the Target
# column and the verdicts; then the commands and configs. Written to $RESULTS and printed.

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_TOTAL=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
GIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -1) ]]; then GIT="$GIT (with uncommitted changes)"; fi
WIRE=${R[keepall.wire]:-${R[ch-keepall.wire]:-$(jget "${R[floor.json]:-}" wire_bytes_per_span)}}
WORKLOAD=$(jget "${R[floor.json]:-}" workload)
: "${WORKLOAD:=${R[keepall.workload]:-${R[ch-keepall.workload]:-}}}"

# row FIGURE VALUE TARGET VERDICT CMD_INDEX
ROWS=""
row() { ROWS+="| $1 | $2 | $3 | $4 | [$5] |"$'\n'; }

for name in keepall p10; do
  [[ -n ${R[$name.cmd]:-}${R[$name.skipped]:-} ]] || continue  # not run (ONLY=clickhouse)
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

# cluster_rows LABEL MODE JUDGED: the CLUSTER_PAIRS pairs of one node (single-MODE-K) and the
# 3-node cluster (cluster-MODE-K), run back to back with the same sampling config: the median
# pair's ratio (one node's spans per CPU-second / the cluster's), with a verdict when JUDGED is 1,
# and the CPU each forwarded span cost the cluster beyond one node's work (µs).
cluster_rows() {
  local label=$1 mode=$2 judged=$3 k single name ratio ratios=() pairs="" cmds="" shares="" stored=""
  local stored_ok=met notes="" n extra extras=() extra_pairs=""
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
    # The cluster's CPU less one node's for as many spans, per forwarded span.
    if [[ ${R[$name.forwarded]:-0} -gt 0 ]]; then
      extra=$(calc "1e6 * (${R[$name.cpu_s]} - ${R[$name.accepted]} / ${R[$single.per_cpu]}) / ${R[$name.forwarded]}")
      extras+=("$extra")
      extra_pairs+="${extra_pairs:+, }$(fmt "$extra" 2)"
    fi
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
  local target verdict_text
  if [[ $judged == 1 ]]; then
    target=$(tgt '<=' "$T_CLUSTER_RATIO") verdict_text=$(verdict "$mid" '<=' "$T_CLUSTER_RATIO")
  else
    target="(reported; the target is judged on the default config, keep-all)" verdict_text=""
  fi
  row "Cluster of 3, $label: CPU per span relative to one node, median of ${#ratios[@]} pairs run back to back (each: ratio (one node / cluster, spans per CPU-s of the daemons))" \
    "**$(fmt "$mid" 2)**; $pairs" "$target" "$verdict_text" "$cmds"
  ((${#extras[@]})) &&
    row "Cluster of 3, $label: CPU per forwarded span beyond one node's work, µs (median; per pair)" \
      "$(fmt "$(median "${extras[@]}")" 2); $extra_pairs" "" "" "$cmds"
  local target="" check=""
  [[ $mode == keepall ]] && target="stored = accepted" check=$stored_ok
  row "Cluster of 3, $label: forwarded share; spans stored per node = sum, per pair" \
    "$shares; $stored" "$target" "$check" "$cmds"
  [[ -n $notes ]] && row "Cluster of 3, $label: note" "$notes" "" "" "$cmds"
}
# Issue 11's target is judged on the default config (keep-all). Under the 10% policy one node's
# work per span is a quarter of keep-all's while a forwarded span costs the same, so that ratio
# measures the sampler's speed as much as the forwarding: bench/README.md "Cluster mode".
cluster_rows keep-all keepall 1
cluster_rows "10% policy" p10 0

# The 10% policy with other `cluster.compression` values (none, gzip), each against the last
# single-node 10% run: what the default's LZ4 costs and saves. No verdict: the target is about
# the default config.
codec_row() {
  local codec=$1 name=cluster-p10-$1 single=single-p10-$CLUSTER_PAIRS
  [[ -n ${R[$name.cmd]:-}${R[$name.skipped]:-} ]] || return
  if [[ -n ${R[$name.skipped]:-}${R[$single.skipped]:-} || -z ${R[$single.per_cpu]:-} ]]; then
    row "Cluster of 3, 10% policy, \`compression: $codec\`" "${R[$name.skipped]:-no single-node figure}" "" "" "${R[$name.cmd]:-?}"
    return
  fi
  local ratio
  ratio=$(calc "${R[$single.per_cpu]} / ${R[$name.per_cpu]}")
  row "Cluster of 3, 10% policy, \`compression: $codec\`: CPU per span relative to one node (one node / cluster)" \
    "$(fmt "$ratio" 2) ($(fmt "${R[$single.per_cpu]}") / $(fmt "${R[$name.per_cpu]}"))" "(not the default config)" "" "${R[$single.cmd]}, ${R[$name.cmd]}"
}
codec_row none
codec_row gzip

# floor_rows: the floor and the ingest runs' ratios to it, then issue 5's floor as a second line.
floor_rows() {
  [[ -n ${R[floor.cmd]:-} ]] || return  # not run (ONLY=clickhouse)
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

if [[ -z ${R[mem.cmd]:-}${R[mem.skipped]:-} ]]; then
  :  # not run (ONLY=clickhouse)
elif [[ -n ${R[mem.skipped]:-} ]]; then
  row "Buffered spans in memory (daemon)" "${R[mem.skipped]}" "" "" "${R[mem.cmd]:-?}"
else
  row "Buffered spans in memory (daemon): RSS growth / wire bytes, $(fmt "${R[mem.accepted]}") spans held" "**$(fmt "${R[mem.ratio]:-}" 2)×** ($(fmt "$(calc "${R[mem.rss_growth]} / 1048576")") MiB for $(fmt "$(calc "${R[mem.wire_bytes]:-0} / 1048576")") MiB)" "$(tgt '<=' "$T_MEMORY_RATIO" ×)" "$(verdict "${R[mem.ratio]:-}" '<=' "$T_MEMORY_RATIO")" "${R[mem.cmd]}"
  row "Buffered spans in memory (daemon): the sampler's own byte accounting / wire bytes" "$(fmt "${R[mem.accounted_ratio]:-}" 2)×" "" "" "${R[mem.cmd]}"
fi
for s in keep-all p10; do
  [[ -n ${R[sampler.$s.cmd]:-} ]] || continue  # not run (ONLY=clickhouse)
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

c=${R[query.cmd]:-}
if [[ -z $c ]]; then
  :  # not run (ONLY=clickhouse)
elif [[ -n ${R[query.skipped]:-} ]]; then
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

# The ClickHouse backend (run.sh section 5): its own table, each figure next to the same figure of
# the RocksDB runs above. No targets or verdicts: the issue sets none for ClickHouse.
CH_ROWS=""
# chrow FIGURE CLICKHOUSE ROCKSDB CMD_INDEXES
chrow() { CH_ROWS+="| $1 | $2 | $3 | ${4:+[$4]} |"$'\n'; }
[[ -n ${R[ch.skipped]:-} ]] && chrow "ClickHouse backend (section 5)" "${R[ch.skipped]}" "" ""
# ch_ingest_rows NAME ROCKS_NAME LABEL: the rows of one ClickHouse ingest run.
ch_ingest_rows() {
  local n=$1 r=$2 label=$3 c=${R[$1.cmd]:-?}
  [[ -n ${R[$n.cmd]:-}${R[$n.skipped]:-} ]] || return
  if [[ -n ${R[$n.skipped]:-} ]]; then
    chrow "Ingest, $label" "${R[$n.skipped]}" "" "$c"
    return
  fi
  local rocks_ran=0
  [[ -n ${R[$r.per_cpu]:-} ]] && rocks_ran=1
  rv() { ((rocks_ran)) && printf '%s' "$1" || printf 'not run'; }  # the RocksDB column
  chrow "Ingest, $label: spans per daemon CPU-second" \
    "**$(fmt "${R[$n.per_cpu]}")** ($(fmt "${R[$n.accepted]}") spans / $(fmt "${R[$n.cpu_s]}" 2) CPU-s)" \
    "$(rv "$(fmt "${R[$r.per_cpu]:-}") ($(fmt "${R[$r.accepted]:-}") spans / $(fmt "${R[$r.cpu_s]:-}" 2) CPU-s)")" "$c"
  chrow "Ingest, $label: the ClickHouse server's CPU-seconds (user+sys, all threads) over the same interval and until its merges stopped ($(fmt "${R[$n.ch_wait_s]:-}" 1) s after the pipeline settled)" \
    "$(fmt "${R[$n.ch_cpu_s]}" 2) CPU-s = $(fmt "$(calc "1e6 * ${R[$n.ch_cpu_s]} / ${R[$n.accepted]}")" 2) µs per span" \
    "— (the store is in the daemon: counted above)" "$c"
  chrow "Ingest, $label: spans per (daemon + ClickHouse server) CPU-second" \
    "**$(fmt "${R[$n.per_total_cpu]}")** ($(fmt "${R[$n.accepted]}") spans / $(fmt "$(calc "${R[$n.cpu_s]} + ${R[$n.ch_cpu_s]}")" 2) CPU-s)" \
    "$(rv "$(fmt "${R[$r.per_cpu]:-}") (daemon alone)")" "$c"
  chrow "Ingest, $label: wall throughput while sending" "$(fmt "${R[$n.wall_rate]}") spans/s" \
    "$(rv "$(fmt "${R[$r.wall_rate]:-}") spans/s")" "$c"
  chrow "Ingest, $label: request latency p50 / p99 (512 spans)" \
    "$(fmt "${R[$n.p50]}" 2) / $(fmt "${R[$n.p99]}" 2) ms" \
    "$(rv "$(fmt "${R[$r.p50]:-}" 2) / $(fmt "${R[$r.p99]:-}" 2) ms")" "$c"
  chrow "Ingest, $label: refusals retried (UNAVAILABLE) / spans given up" \
    "${R[$n.retries]:-0} retries ${R[$n.errors]:+(${R[$n.errors]})} / ${R[$n.failed]:-0}" \
    "$(rv "${R[$r.retries]:-0} / ${R[$r.failed]:-0}")" "$c"
  chrow "Ingest, $label: peak RSS (VmHWM): daemon; ClickHouse server" \
    "$(fmt "${R[$n.hwm_mb]}") MiB; $(fmt "${R[$n.ch_hwm_mb]:-}") MiB" \
    "$(rv "$(fmt "${R[$r.hwm_mb]:-}") MiB")" "$c"
  chrow "Ingest, $label: spans stored (tailtrace_stored_spans_total; rows of ClickHouse's \`spans\`)" \
    "$(fmt "${R[$n.stored_spans]}"); $(fmt "${R[$n.ch_rows]:-}")" \
    "$(rv "$(fmt "${R[$r.stored_spans]:-}")")" "$c"
  chrow "Ingest, $label: bytes on disk per stored span (ClickHouse: bytes_on_disk of the database's active parts in system.parts, once its merges stopped, over the rows of \`spans\`; RocksDB: SST files after the shutdown flush / after a full compaction)" \
    "**$(fmt "${R[$n.bps_ch]:-}" 1)** (${R[$n.ch_parts]:-?} parts; bytes by table: ${R[$n.ch_by_table]:-?})" \
    "$(rv "$(fmt "${R[$r.bps_flushed]:-}" 1) / $(fmt "${R[$r.bps_compacted]:-}" 1)")" "$c"
  [[ -n ${R[$n.note]:-} ]] && chrow "Ingest, $label: note" "${R[$n.note]}" "" "$c"
  [[ ${R[$n.exit]:-0} != 0 ]] && chrow "Ingest, $label: daemon exit status" "${R[$n.exit]}" "" "$c"
}
ch_ingest_rows ch-keepall keepall keep-all
ch_ingest_rows ch-p10 p10 "10% probabilistic policy"

CHQ=${CHQ:-}
c=${R[ch-query.cmd]:-}
cr=${R[query.cmd]:-}
if [[ -n ${R[ch-query.skipped]:-} ]]; then
  chrow "Query" "${R[ch-query.skipped]}" "" "${c:-?}"
elif [[ -n $c ]]; then
  QR=${QR:-}
  chq_cmds="$c${cr:+, $cr}"
  qspans=$(jget "$CHQ" spans)
  qsize="**$(fmt "$qspans") spans** ($(fmt "$(jget "$CHQ" traces)") traces of 50 spans)"
  [[ $qspans != "$(jget "$CHQ" planned_spans)" ]] &&
    qsize+=", of $(fmt "$(jget "$CHQ" planned_spans)") planned: the build stopped at its CLICKHOUSE_QUERY_BUILD_BUDGET of $CLICKHOUSE_QUERY_BUILD_BUDGET"
  rsize="not run"
  [[ -n $QR ]] && rsize="$(fmt "$(jget "$QR" spans)") spans"
  chrow "Query store size (ClickHouse's searches take longer the larger the store: mind the sizes)" "$qsize" "$rsize" "$chq_cmds"
  bcpu=$(jget "$CHQ" build_cpu_seconds)
  scpu=$(jget "$CHQ" build_server_cpu_seconds)
  rbuild="not run"
  [[ -n $QR && $(jget "$QR" reused) != true ]] && rbuild="$(fmt "$(jget "$QR" build_spans_per_cpu_second)") spans per benchmark CPU-s"
  chrow "Query store build ($(jget "$CHQ" build_writers) writer threads, $(jget "$CHQ" build_batch_traces) traces per Write, the store on the real clock): spans per CPU-second of the benchmark process; of the benchmark and the server" \
    "$(fmt "$(jget "$CHQ" build_spans_per_cpu_second)"); $(fmt "$(calc "$qspans / ($bcpu + ${scpu:-0} + 0.000001)")") ($(fmt "$bcpu" 1) + $(fmt "$scpu" 1) CPU-s; $(fmt "$(jget "$CHQ" build_wall_seconds)" 1) s wall = $(fmt "$(jget "$CHQ" build_spans_per_wall_second)") spans/s)" \
    "$rbuild" "$chq_cmds"
  rdisk="not run"
  [[ -n $QR ]] && rdisk="$(fmt "$(jget "$QR" disk_bytes_per_span)" 1) (compacted)"
  chrow "Query store: bytes on disk per span, after OPTIMIZE TABLE ... FINAL on each table ($(fmt "$(jget "$CHQ" compact_seconds)" 1) s, $(fmt "$(jget "$CHQ" compact_server_cpu_seconds)" 1) server CPU-s)" \
    "$(fmt "$(jget "$CHQ" disk_bytes_per_span)" 1) ($(jget "$CHQ" clickhouse_parts) parts; bytes by table: $(jget "$CHQ" clickhouse_disk_bytes_by_table))" "$rdisk" "$chq_cmds"
  chqrow() {  # KEY LABEL
    local key=$1 label=$2 sk rq rtext="not run"
    sk=$(jget "$CHQ" "${key}_skipped")
    if [[ -n $QR ]]; then
      rtext=$(jget "$QR" "${key}_skipped")
      if [[ -n $rtext ]]; then
        rtext="skipped: $rtext"
      else
        rtext="p50 $(fmt "$(jget "$QR" "${key}_p50_ms")" 3) ms, p99 $(fmt "$(jget "$QR" "${key}_p99_ms")" 3) ms"
      fi
    fi
    if [[ -n $sk ]]; then
      chrow "$label" "skipped: $sk" "$rtext" "$chq_cmds"
      return
    fi
    rq=$(jget "$CHQ" "${key}_request")
    chrow "$label${rq:+ \`$rq\`}" \
      "p50 $(fmt "$(jget "$CHQ" "${key}_p50_ms")" 3) ms, p99 **$(fmt "$(jget "$CHQ" "${key}_p99_ms")" 3) ms** (this process's CPU p99 $(fmt "$(jget "$CHQ" "${key}_cpu_p99_ms")" 3) ms; server CPU $(fmt "$(jget "$CHQ" "${key}_server_cpu_ms_avg")" 1) ms a call on average; $(fmt "$(jget "$CHQ" "${key}_avg_results")" 1) results avg)" \
      "$rtext" "$chq_cmds"
  }
  chqrow get_trace "Trace by ID, 50 spans: TraceStore::GetTrace"
  chqrow api_get_trace "Trace by ID, 50 spans: Jaeger API (in process, JSON included)"
  chqrow find_service_min_duration "Search service + minDuration 2s, limit 20: TraceStore::FindTraces"
  chqrow api_search_service_min_duration "Search service + minDuration 2s, limit 20: Jaeger API"
  chqrow find_service_attribute "Search service + attribute (user.id), limit 20: TraceStore::FindTraces"
  chqrow api_search_service_attribute "Search service + attribute (user.id), limit 20: Jaeger API"
  chqrow find_time_only "Search time only (15 min window), limit 20: TraceStore::FindTraces"
  chqrow api_search_time_only "Search time only (15 min window), limit 20: API"
fi

# Where the bytes of the keep-all ingest store go, per key space (storage/index/include/storage/index/keys.h).
BREAKDOWN=""
st=${R[keepall.storetool]:-}
stored=${R[keepall.stored_spans]:-0}
if [[ -n $st && $stored -gt 0 && -n $(jget "$st" key_spaces) ]]; then
  BREAKDOWN+="| Key space | What (storage/index/.../keys.h) | Keys per span | Raw key+value bytes per span | Disk bytes per span (compacted, approx.) |"$'\n'
  BREAKDOWN+="|---|---|---|---|---|"$'\n'
  IFS=, read -r -a spaces <<<"$(jget "$st" key_spaces)"
  for ks in "${spaces[@]}"; do
    case $ks in
      T) what="span chunks (references into span blocks)" ;;
      B) what="span blocks" ;;
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
      0x*) what="span metrics history (a key starts with its service's length)" ;;
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
  echo "Produced by \`make bench\` (bench/run.sh$([[ $SMALL == 1 ]] && echo ', SMALL=1: reduced sizes')$([[ -n $ONLY ]] && echo ", ONLY=$ONLY: that section alone")) on $(date -u '+%Y-%m-%d %H:%M UTC'), tree at $GIT."
  echo
  echo "**Machine:** $(nproc) CPUs ($CPU_MODEL), $MEM_TOTAL RAM, $(uname -sr). Every process shares these"
  echo "cores: the load generator runs next to the daemon, so wall throughput is bounded by both; the"
  echo "per-CPU-second figures count the daemon's (or the benchmark process's) own CPU time only."
  echo
  echo "**Workload** (the canonical one of issue 5): $WORKLOAD —"
  echo "10 services, 20 spans per trace (50 in the query store), 10 attributes per span, $(fmt "$WIRE" 1) bytes per"
  echo "span on the wire, 512 spans per request (one service per request, as an SDK exporter sends"
  echo "them), 5% failed and 2% slow traces; OTLP/gRPC, 2 connections with 4 requests in flight each."
  echo
  echo "Ingest size: $INGEST_NOTE."
  echo
  if [[ -n $ROWS ]]; then
    echo "| Figure | Value | Target | Verdict | Command |"
    echo "|---|---|---|---|---|"
    printf '%s' "$ROWS"
  fi
  if [[ -n $CH_ROWS ]]; then
    [[ -n $ROWS ]] && echo
    echo "### ClickHouse backend (\`storage.backend: clickhouse\`)"
    echo
    echo "ClickHouse ${R[ch.version]:-?} (\`$CLICKHOUSE_SERVER\`): a private server on this machine, started for"
    echo "each run alone and sharing its cores (its config under Configs). The daemon's config is the"
    echo "RocksDB run's but for \`storage: {backend: clickhouse, ...}\` with the default \`flush_interval\` (1 s)"
    echo "and \`batch_size\` (10,000 spans); the write-ahead log stays on. The ingest runs send the same spans"
    echo "as the RocksDB runs. The server's CPU time (user+sys of all its threads, /proc/PID/stat) is read"
    echo "as the daemon's, from the daemon being ready until the pipeline settled, and then until the"
    echo "server's merges stopped: the honest cost of the backend is the daemon's and the server's. The"
    echo "query figures' \"server CPU\" is the server's CPU time over the measured calls (whole clock"
    echo "ticks, summed) divided by the calls. The issue sets no targets for ClickHouse: figures only."
    echo
    echo "| Figure | ClickHouse | RocksDB (the same figure above) | Command |"
    echo "|---|---|---|---|"
    printf '%s' "$CH_ROWS"
  fi
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
  for f in keepall p10 memory cluster-keepall-1-1 ch-keepall ch-p10; do
    [[ -f $WORK/$f.yaml ]] || continue
    case $f in  # only the configs of runs that ran (ONLY=clickhouse writes some it does not run)
      memory) [[ -n ${R[mem.cmd]:-} ]] || continue ;;
      cluster-*) [[ -n ${R[cluster-keepall-1.cmd]:-} ]] || continue ;;
      *) [[ -n ${R[$f.cmd]:-} ]] || continue ;;
    esac
    echo
    echo "\`\$WORK/$f.yaml\`:"
    echo '```yaml'
    scrub "$(cat "$WORK/$f.yaml")"
    echo '```'
  done
  for f in ch-keepall ch-p10 ch-query; do
    [[ -f $WORK/$f-clickhouse/config.xml ]] || continue
    echo
    echo "The ClickHouse server's \`\$WORK/$f-clickhouse/config.xml\` (each run's differs in its directory and"
    echo "ports only; \`users.xml\` holds the user \`default\` without a password, for 127.0.0.1 and ::1):"
    echo '```xml'
    scrub "$(cat "$WORK/$f-clickhouse/config.xml")"
    echo '```'
    break
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
  if [[ -n ${R[floor.cmd]:-} ]]; then
    echo
    echo "Floor: spans per CPU-second of tailtrace-bench-floor's whole process (getrusage): one thread"
    echo "scans each request (ScanExportRequest), compresses its resource, scope and span bytes with LZ4"
    echo "in 64 KiB blocks (the store's span chunks as flushed) and appends them as one write-ahead-log"
    echo "frame, without fdatasync (the log's default). Issue 5's floor (--mode rocksdb) follows it."
  fi
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
