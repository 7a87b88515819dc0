#include "cluster/cluster_reader.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "latch_internal.h"
#include "query_codec_internal.h"
#include "query_merge_internal.h"
#include "tailtrace/cluster/v1/cluster.grpc.pb.h"

namespace tailtrace::cluster {
namespace {

namespace pb = ::tailtrace::cluster::v1;
using internal::FromGrpcStatus;
using internal::FromProto;
using internal::Latch;

// Who a fan-out asks and how long it waits.
struct FanOutTarget {
  Membership* membership;
  PeerChannels* channels;
  std::chrono::system_clock::time_point deadline;
};

// One asynchronous call to a peer; everything the call points to lives here until it completes.
template <typename Response>
struct PeerCall {
  std::unique_ptr<pb::ClusterQuery::Stub> stub;
  grpc::ClientContext context;
  Response response;
  grpc::Status status;
};

// One member's answer to a fan-out.
template <typename T>
struct Answer {
  std::string member;
  absl::StatusOr<T> value;
};

// A call that did not reach the peer or timed out is a failure of the peer; any answer is a
// success (the peer is up even if its store failed).
void ReportOutcome(Membership* membership, const std::string& member, const grpc::Status& status) {
  const grpc::StatusCode code = status.error_code();
  if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    membership->ReportFailure(member, absl::StrCat("query: ", status.error_message()));
  } else {
    membership->ReportSuccess(member);
  }
}

// Asks every one of `members` (this node through `local`, on this thread, the others through
// `start(stub, context, response, done)`, which issues the asynchronous call) and returns the
// answers in the order of `members`, each peer's answer turned into a T by `decode`.
template <typename T, typename Response, typename Start, typename Decode, typename Local>
std::vector<Answer<T>> FanOut(const FanOutTarget& target, const std::vector<std::string>& members,
                              Start start, Decode decode, Local local) {
  const std::string& self = target.membership->self();
  bool ask_self = false;
  std::vector<std::unique_ptr<PeerCall<Response>>> calls;
  for (const std::string& member : members) {
    if (member == self) {
      ask_self = true;
      continue;
    }
    auto call = std::make_unique<PeerCall<Response>>();
    call->stub = pb::ClusterQuery::NewStub(target.channels->Get(member));
    call->context.set_deadline(target.deadline);
    target.channels->Prepare(&call->context);
    calls.push_back(std::move(call));
  }
  Latch latch(calls.size());
  for (auto& call : calls) {
    PeerCall<Response>* c = call.get();
    start(c->stub.get(), &c->context, &c->response, [c, &latch](grpc::Status status) {
      c->status = std::move(status);
      latch.CountDown();
    });
  }
  // This node's own read runs while the peers' calls are in flight.
  absl::StatusOr<T> local_value = ask_self ? local() : absl::UnknownError("not asked");
  latch.Wait();

  std::vector<Answer<T>> answers;
  answers.reserve(members.size());
  auto next = calls.begin();
  for (const std::string& member : members) {
    if (member == self) {
      answers.push_back({member, std::move(local_value)});
      continue;
    }
    PeerCall<Response>& call = **next++;
    ReportOutcome(target.membership, member, call.status);
    answers.push_back(
        {member, call.status.ok() ? decode(call.response) : FromGrpcStatus(call.status)});
  }
  return answers;
}

std::string MemberError(const std::string& member, const absl::Status& status) {
  return absl::StrCat("member ", member, ": ", absl::StatusCodeToString(status.code()), ": ",
                      status.message());
}

// The merged answers, the failures recorded in `partial_errors`; see the header for when the
// read as a whole fails.
template <typename T, typename Merge>
auto Collect(std::vector<Answer<T>> answers, const std::string& self,
             query::PartialErrors* partial_errors, Merge merge)
    -> absl::StatusOr<decltype(merge(std::vector<T>()))> {
  std::vector<T> values;
  std::vector<std::pair<std::string, std::string>> failures;  // member, message
  for (Answer<T>& answer : answers) {
    if (answer.value.ok()) {
      values.push_back(*std::move(answer.value));
      continue;
    }
    // A request this node refuses is wrong everywhere: the caller gets the refusal (a 400).
    if (answer.member == self && absl::IsInvalidArgument(answer.value.status())) {
      return answer.value.status();
    }
    failures.emplace_back(answer.member, MemberError(answer.member, answer.value.status()));
  }
  if (answers.empty()) {
    return absl::UnavailableError("every member failed earlier in this request");
  }
  if (values.empty()) {
    if (answers.size() == 1) return answers.front().value.status();
    std::vector<std::string> messages;
    for (const auto& [member, message] : failures) messages.push_back(message);
    return absl::UnavailableError(
        absl::StrCat("no member of the cluster answered: ", absl::StrJoin(messages, "; ")));
  }
  if (partial_errors != nullptr) {
    for (auto& [member, message] : failures) partial_errors->Add(member, std::move(message));
  }
  return merge(std::move(values));
}

// `members` without those that already failed in this request (see query::PartialErrors).
std::vector<std::string> Askable(std::vector<std::string> members,
                                 const query::PartialErrors* partial_errors) {
  if (partial_errors == nullptr || partial_errors->empty()) return members;
  std::erase_if(members, [&](const std::string& m) { return partial_errors->Failed(m); });
  return members;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClusterReader>> ClusterReader::Create(
    const ClusterReaderOptions& options, Membership* membership, PeerChannels* channels,
    storage::TraceStore* local) {
  if (options.timeout_ns <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster reader: timeout must be > 0, got ", options.timeout_ns, " ns"));
  }
  return std::unique_ptr<ClusterReader>(new ClusterReader(options, membership, channels, local));
}

namespace {

FanOutTarget TargetOf(Membership* membership, PeerChannels* channels, int64_t timeout_ns) {
  return {membership, channels,
          std::chrono::system_clock::now() + std::chrono::nanoseconds(timeout_ns)};
}

}  // namespace

void ClusterReader::NoteDownMembers(query::PartialErrors* partial_errors) {
  if (partial_errors == nullptr) return;
  for (const MemberStatus& member : membership_->StatusSnapshot().members) {
    if (member.state != PeerState::kDown) continue;
    partial_errors->Add(member.name,
                        absl::StrCat("member ", member.name,
                                     " is down (no answer within peer_timeout): the traces it "
                                     "stores are missing from this answer"));
  }
}

absl::StatusOr<std::optional<storage::StoredTrace>> ClusterReader::GetTrace(
    const TraceId& id, uint64_t max_spans, query::PartialErrors* partial_errors) {
  return ReadTrace(id, max_spans, partial_errors, /*archived=*/false);
}

absl::StatusOr<std::optional<storage::StoredTrace>> ClusterReader::GetArchivedTrace(
    const TraceId& id, uint64_t max_spans, query::PartialErrors* partial_errors) {
  return ReadTrace(id, max_spans, partial_errors, /*archived=*/true);
}

absl::Status ClusterReader::ArchiveTrace(const storage::StoredTrace& trace) {
  return local_->ArchiveTrace(trace);
}

absl::StatusOr<std::optional<storage::StoredTrace>> ClusterReader::ReadTrace(
    const TraceId& id, uint64_t max_spans, query::PartialErrors* partial_errors, bool archived) {
  const std::shared_ptr<const Ring> ring = membership_->Live();
  NoteDownMembers(partial_errors);
  // The owner first: its copy's sampling policy and rate are the trace's.
  std::vector<std::string> members;
  for (size_t i : ring->OwnersInOrder(id, ring->size())) members.push_back(ring->member(i));
  pb::GetTraceRequest request;
  request.set_trace_id(std::string(id.view()));
  request.set_max_spans(max_spans);
  using Trace = std::optional<storage::StoredTrace>;
  std::vector<Answer<Trace>> answers = FanOut<Trace, pb::GetTraceResponse>(
      TargetOf(membership_, channels_, options_.timeout_ns), Askable(members, partial_errors),
      [&request, archived](pb::ClusterQuery::Stub* stub, grpc::ClientContext* context,
                           pb::GetTraceResponse* response, std::function<void(grpc::Status)> done) {
        if (archived) {
          stub->async()->GetArchivedTrace(context, &request, response, std::move(done));
        } else {
          stub->async()->GetTrace(context, &request, response, std::move(done));
        }
      },
      [&id](const pb::GetTraceResponse& response) { return FromProto(id, response); },
      [&]() -> absl::StatusOr<Trace> {
        query::StoreTraceReader local(local_);
        return archived ? local.GetArchivedTrace(id, max_spans, nullptr)
                        : local.GetTrace(id, max_spans, nullptr);
      });
  return Collect(std::move(answers), membership_->self(), partial_errors,
                 [max_spans](std::vector<Trace> parts) {
                   return internal::MergeTraces(std::move(parts), max_spans);
                 });
}

absl::StatusOr<std::vector<storage::TraceSummary>> ClusterReader::FindTraces(
    const storage::TraceQuery& query, query::PartialErrors* partial_errors) {
  const std::shared_ptr<const Ring> ring = membership_->Live();
  NoteDownMembers(partial_errors);
  pb::FindTracesRequest request;
  internal::ToProto(query, &request);
  using Summaries = std::vector<storage::TraceSummary>;
  auto decode = [](const pb::FindTracesResponse& response) -> absl::StatusOr<Summaries> {
    Summaries summaries;
    summaries.reserve(response.summaries_size());
    for (const pb::TraceSummary& s : response.summaries()) {
      absl::StatusOr<storage::TraceSummary> summary = FromProto(s);
      if (!summary.ok()) return summary.status();
      summaries.push_back(*std::move(summary));
    }
    return summaries;
  };
  std::vector<Answer<Summaries>> answers = FanOut<Summaries, pb::FindTracesResponse>(
      TargetOf(membership_, channels_, options_.timeout_ns),
      Askable(ring->members(), partial_errors),
      [&request](pb::ClusterQuery::Stub* stub, grpc::ClientContext* context,
                 pb::FindTracesResponse* response, std::function<void(grpc::Status)> done) {
        stub->async()->FindTraces(context, &request, response, std::move(done));
      },
      decode, [&] { return local_->FindTraces(query); });
  return Collect(std::move(answers), membership_->self(), partial_errors,
                 [limit = query.limit](std::vector<Summaries> parts) {
                   return internal::MergeSummaries(std::move(parts), limit);
                 });
}

absl::StatusOr<std::vector<std::string>> ClusterReader::GetServices(
    query::PartialErrors* partial_errors) {
  const std::shared_ptr<const Ring> ring = membership_->Live();
  NoteDownMembers(partial_errors);
  pb::GetServicesRequest request;
  using Services = std::vector<std::string>;
  std::vector<Answer<Services>> answers = FanOut<Services, pb::GetServicesResponse>(
      TargetOf(membership_, channels_, options_.timeout_ns),
      Askable(ring->members(), partial_errors),
      [&request](pb::ClusterQuery::Stub* stub, grpc::ClientContext* context,
                 pb::GetServicesResponse* response, std::function<void(grpc::Status)> done) {
        stub->async()->GetServices(context, &request, response, std::move(done));
      },
      [](const pb::GetServicesResponse& response) -> absl::StatusOr<Services> {
        return Services(response.services().begin(), response.services().end());
      },
      [&] { return local_->GetServices(); });
  return Collect(std::move(answers), membership_->self(), partial_errors, internal::MergeServices);
}

absl::StatusOr<std::vector<storage::Operation>> ClusterReader::GetOperations(
    const std::string& service, int span_kind, query::PartialErrors* partial_errors) {
  const std::shared_ptr<const Ring> ring = membership_->Live();
  NoteDownMembers(partial_errors);
  pb::GetOperationsRequest request;
  request.set_service(service);
  request.set_span_kind(span_kind);
  using Operations = std::vector<storage::Operation>;
  std::vector<Answer<Operations>> answers = FanOut<Operations, pb::GetOperationsResponse>(
      TargetOf(membership_, channels_, options_.timeout_ns),
      Askable(ring->members(), partial_errors),
      [&request](pb::ClusterQuery::Stub* stub, grpc::ClientContext* context,
                 pb::GetOperationsResponse* response, std::function<void(grpc::Status)> done) {
        stub->async()->GetOperations(context, &request, response, std::move(done));
      },
      [](const pb::GetOperationsResponse& response) -> absl::StatusOr<Operations> {
        Operations ops;
        ops.reserve(response.operations_size());
        for (const pb::Operation& op : response.operations()) {
          ops.push_back({op.name(), op.span_kind()});
        }
        return ops;
      },
      [&] { return local_->GetOperations(service, span_kind); });
  return Collect(std::move(answers), membership_->self(), partial_errors,
                 internal::MergeOperations);
}

absl::StatusOr<std::vector<std::string>> ClusterReader::SuggestTags(
    const storage::TagSuggestionQuery& query, query::PartialErrors* partial_errors) {
  const std::shared_ptr<const Ring> ring = membership_->Live();
  NoteDownMembers(partial_errors);
  pb::SuggestTagsRequest request;
  internal::ToProto(query, &request);
  using Names = std::vector<std::string>;
  std::vector<Answer<Names>> answers = FanOut<Names, pb::SuggestTagsResponse>(
      TargetOf(membership_, channels_, options_.timeout_ns),
      Askable(ring->members(), partial_errors),
      [&request](pb::ClusterQuery::Stub* stub, grpc::ClientContext* context,
                 pb::SuggestTagsResponse* response, std::function<void(grpc::Status)> done) {
        stub->async()->SuggestTags(context, &request, response, std::move(done));
      },
      [](const pb::SuggestTagsResponse& response) -> absl::StatusOr<Names> {
        return Names(response.names().begin(), response.names().end());
      },
      [&] { return local_->SuggestTags(query); });
  return Collect(std::move(answers), membership_->self(), partial_errors,
                 [limit = query.limit](std::vector<Names> parts) {
                   return internal::MergeTagSuggestions(std::move(parts), limit);
                 });
}

absl::StatusOr<std::vector<storage::DependencyLink>> ClusterReader::GetDependencies(
    int64_t end_ns, int64_t lookback_ns, query::PartialErrors* partial_errors) {
  const std::shared_ptr<const Ring> ring = membership_->Live();
  NoteDownMembers(partial_errors);
  pb::GetDependenciesRequest request;
  request.set_end_ns(end_ns);
  request.set_lookback_ns(lookback_ns);
  using Links = std::vector<storage::DependencyLink>;
  std::vector<Answer<Links>> answers = FanOut<Links, pb::GetDependenciesResponse>(
      TargetOf(membership_, channels_, options_.timeout_ns),
      Askable(ring->members(), partial_errors),
      [&request](pb::ClusterQuery::Stub* stub, grpc::ClientContext* context,
                 pb::GetDependenciesResponse* response, std::function<void(grpc::Status)> done) {
        stub->async()->GetDependencies(context, &request, response, std::move(done));
      },
      [](const pb::GetDependenciesResponse& response) -> absl::StatusOr<Links> {
        Links links;
        links.reserve(response.links_size());
        for (const pb::DependencyLink& l : response.links()) links.push_back(FromProto(l));
        return links;
      },
      [&] { return local_->GetDependencies(end_ns, lookback_ns); });
  return Collect(std::move(answers), membership_->self(), partial_errors,
                 internal::MergeDependencies);
}

absl::StatusOr<std::vector<storage::MetricPoint>> ClusterReader::ReadMetricPoints(
    const storage::MetricPointQuery& query, query::PartialErrors* partial_errors) {
  const std::shared_ptr<const Ring> ring = membership_->Live();
  NoteDownMembers(partial_errors);
  pb::ReadMetricPointsRequest request;
  request.mutable_services()->Add(query.services.begin(), query.services.end());
  request.set_start_ns(query.start_ns);
  request.set_end_ns(query.end_ns);
  using Points = std::vector<storage::MetricPoint>;
  std::vector<Answer<Points>> answers = FanOut<Points, pb::ReadMetricPointsResponse>(
      TargetOf(membership_, channels_, options_.timeout_ns),
      Askable(ring->members(), partial_errors),
      [&request](pb::ClusterQuery::Stub* stub, grpc::ClientContext* context,
                 pb::ReadMetricPointsResponse* response, std::function<void(grpc::Status)> done) {
        stub->async()->ReadMetricPoints(context, &request, response, std::move(done));
      },
      [](const pb::ReadMetricPointsResponse& response) -> absl::StatusOr<Points> {
        Points points;
        points.reserve(response.points_size());
        for (const pb::MetricPoint& p : response.points()) points.push_back(internal::FromProto(p));
        return points;
      },
      [&] { return local_->ReadMetricPoints(query); });
  return Collect(std::move(answers), membership_->self(), partial_errors,
                 internal::MergeMetricPoints);
}

}  // namespace tailtrace::cluster
