#pragma once

// Reads for the query API in cluster mode: every read asks all live members at once and merges
// their answers, so that any node answers for the whole cluster (query::TraceReader; the query
// API takes it in place of a plain store).
//
// - This node's own store is read directly (on the calling thread, while the peers' calls are in
//   flight); every other live member through ClusterQuery (query_server.h) over PeerChannels,
//   marked as a peer call, with asynchronous gRPC calls: no thread per call. Each call has the
//   deadline `timeout_ns` from the start of the read.
// - Trace by ID asks every live member, since a trace may be split between members after a
//   membership change; the parts are merged with the owner's first (its sampling policy and
//   rate win). Search, services, operations, tag suggestions, dependencies and metric points are
//   merged as query_merge_internal.h describes (search: newest first, then the limit; tag
//   suggestions: the sorted union, then the limit).
// - The archive: GetArchivedTrace asks every live member for its archived copy and merges them
//   as trace by ID does. ArchiveTrace writes into this node's own store only: the query API
//   reads the trace to archive through GetTrace (every member's part), so the node that got the
//   request keeps the whole copy, and GetArchivedTrace finds it from any node.
// - A member that fails or does not answer in time is left out of the merge and named in
//   `partial_errors` ("member 10.0.0.2:4317: DEADLINE_EXCEEDED: Deadline Exceeded"); the later
//   reads of the same request (the same PartialErrors) do not ask it again, so a request waits
//   for a slow member once. Only when no member answered is the read an error: this node's own
//   status when it was the only member asked, else UNAVAILABLE listing every member's error. A
//   query this node's store refuses (InvalidArgument) is refused as a whole: the other members
//   would refuse it too.
// - A member that membership holds down is not asked (it would only time out) but named in
//   `partial_errors` all the same: the traces it stores are missing from the answer.
// - Each peer's outcome is reported to Membership: a call that did not reach the peer or timed
//   out (UNAVAILABLE, DEADLINE_EXCEEDED) is a failure, any answer (even an error from the peer's
//   store) a success, so that a peer goes down only when it cannot be reached.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/membership.h"
#include "cluster/peer_channels.h"
#include "query/trace_reader.h"
#include "storage/trace_store.h"

namespace tailtrace::cluster {

struct ClusterReaderOptions {
  // How long a read waits for the peers (cluster.query_timeout); a slower peer is a partial
  // error. Must be > 0.
  // Default: 5 s
  int64_t timeout_ns = 5'000'000'000;
};

// Thread-safe: reads may run concurrently (each blocks its calling thread until every member
// answered or timed out, i.e. at most about timeout_ns beyond the local read).
class ClusterReader final : public query::TraceReader {
 public:
  // `membership`, `channels` and `local` (this node's store) are not owned and must outlive the
  // reader. InvalidArgument for timeout_ns <= 0.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClusterReader>> Create(
      const ClusterReaderOptions& options, Membership* membership, PeerChannels* channels,
      storage::TraceStore* local);

  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(
      const TraceId& id, uint64_t max_spans, query::PartialErrors* partial_errors) override;
  absl::StatusOr<std::vector<storage::TraceSummary>> FindTraces(
      const storage::TraceQuery& query, query::PartialErrors* partial_errors) override;
  absl::StatusOr<std::vector<std::string>> GetServices(
      query::PartialErrors* partial_errors) override;
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(
      const std::string& service, int span_kind, query::PartialErrors* partial_errors) override;
  // A member of a version without SuggestTags answers UNIMPLEMENTED: a partial error.
  absl::StatusOr<std::vector<std::string>> SuggestTags(
      const storage::TagSuggestionQuery& query, query::PartialErrors* partial_errors) override;
  absl::StatusOr<std::vector<storage::DependencyLink>> GetDependencies(
      int64_t end_ns, int64_t lookback_ns, query::PartialErrors* partial_errors) override;
  absl::StatusOr<std::vector<storage::MetricPoint>> ReadMetricPoints(
      const storage::MetricPointQuery& query, query::PartialErrors* partial_errors) override;
  absl::StatusOr<std::optional<storage::StoredTrace>> GetArchivedTrace(
      const TraceId& id, uint64_t max_spans, query::PartialErrors* partial_errors) override;
  // Into this node's store (see the header comment).
  absl::Status ArchiveTrace(const storage::StoredTrace& trace) override;

 private:
  // The members' parts of a trace (of its archived copies with `archived`), merged.
  absl::StatusOr<std::optional<storage::StoredTrace>> ReadTrace(
      const TraceId& id, uint64_t max_spans, query::PartialErrors* partial_errors, bool archived);
  // Lists the members that are down (not asked: they would only time out) as partial errors.
  void NoteDownMembers(query::PartialErrors* partial_errors);

  ClusterReader(const ClusterReaderOptions& options, Membership* membership, PeerChannels* channels,
                storage::TraceStore* local)
      : options_(options), membership_(membership), channels_(channels), local_(local) {}

  const ClusterReaderOptions options_;
  Membership* const membership_;
  PeerChannels* const channels_;
  storage::TraceStore* const local_;
};

}  // namespace tailtrace::cluster
