#pragma once

// Private to storage/clickhouse/: the tables the ClickHouse backend keeps (docs/clickhouse.md
// describes them for operators) and the statements that create them.
//
// Writes go to one table, `input` (engine Null: it keeps nothing); materialized views fan each
// inserted block out to the tables the queries read, so a write is one INSERT:
//   spans      one row per span: its bytes, and the bytes of its resource and scope. Sorted by
//              trace ID: a trace is one range of each partition it lies in.
//   span_index one row per span: the fields and tags searches filter on. Sorted by service,
//              operation and start time.
//   traces     one row per trace and write: the write's earliest start, latest end and sampling
//              decision. Sorted by trace ID. It is the trace-ID lookup (which days a trace lies
//              in) and holds what searches need of whole traces (start, decision).
//   operations the distinct (service, operation, kind) of each day.
// Written directly:
//   dependency_calls  calls counted by the service graph (WriteDependencyCalls), summed per
//                     slot and edge.
//   metric_points     the span metrics' history (WriteMetricPoints).
//   archive           archived traces, never expired.
// Every table but `archive` is partitioned by day (the write's day, or the slot's day for
// metric_points): retention drops whole partitions, never rows. The schema runs unchanged on
// ClickHouse 18.16 (Debian's) and on current releases.
//
// On a cluster (storage.clickhouse.cluster) every table above is created ON CLUSTER as
// `<name>_local`, a Replicated*MergeTree (ZooKeeper path /clickhouse/tables/{shard}/db.table,
// replica {replica}: the servers' macros), behind a Distributed table of the plain name that
// shards rows by trace ID. Statements name the Distributed tables; the views feed the local ones.

#include <string>
#include <utility>
#include <vector>

#include "storage/options.h"

namespace tailtrace::storage::clickhouse {

// Fully qualified names ("db.prefix_name") of the backend's tables and views.
struct TableNames {
  std::string input;
  std::string spans;
  std::string span_index;
  std::string traces;
  std::string operations;
  std::string dependency_calls;
  std::string metric_points;
  std::string archive;
  // The tables holding the rows (the `_local` ones on a cluster) whose partitions retention
  // drops: after the trace ttl, and metric_points after the metrics' retention.
  std::vector<std::string> partitioned_by_trace_ttl;
  std::string stored_metric_points;
};

TableNames TableNamesOf(const ClickHouseOptions& options);

// CREATE DATABASE, TABLE and MATERIALIZED VIEW ... IF NOT EXISTS, in the order to run them.
std::vector<std::string> SchemaStatements(const ClickHouseOptions& options);

// The names (without the database) of every table and view SchemaStatements creates.
std::vector<std::string> SchemaObjectNames(const ClickHouseOptions& options);

// " ON CLUSTER name" on a cluster, else "": for DDL that must run on every server.
std::string OnCluster(const ClickHouseOptions& options);

// system.parts, or on a cluster the parts of one replica of each shard.
std::string PartsTable(const ClickHouseOptions& options);

// The settings every request carries (URL parameters): none on one server; on a cluster,
// synchronous distributed inserts, shard-local joins and insert_quorum.
std::vector<std::pair<std::string, std::string>> SessionSettings(const ClickHouseOptions& options);

}  // namespace tailtrace::storage::clickhouse
