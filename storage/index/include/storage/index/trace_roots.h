#pragma once

// Private to TraceTermsBuilder: the root span of a trace (see TraceSummary) as its spans arrive
// in any order over several chunks, and the spans still waiting for their parent (orphans).
// Candidates of each rank (no parent, orphan, any other span) are ordered by (start, span ID,
// service, operation name); the root is the first of the best rank present. Not thread-safe.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/index/trace_terms_internal.h"

namespace tailtrace::storage {

class TraceRoots {
 public:
  struct Span {
    int64_t start_ns = 0;
    std::string_view span_id;
    uint32_t service = 0;  // the caller's index of the service, given back by ResolveOrphans
    // Views that must stay valid as long as the tracker (interned names).
    std::string_view service_name;
    std::string_view operation_name;
    bool fails_call = false;  // the caller's CallFailure::as_child, given back by ResolveOrphans
  };

  // A span without parent.
  void AddParentless(const Span& span) { Offer(span, &parentless_); }
  // A span whose parent was added before (or along with) it.
  void AddChild(const Span& span) { Offer(span, &child_); }
  // A span whose parent `parent_id` has not been added; its span ID is copied into `arena`.
  void AddOrphan(Span span, std::string_view parent_id, terms_internal::StringArena* arena) {
    const uint32_t index = static_cast<uint32_t>(orphans_.size());
    span.span_id = arena->Store(span.span_id);
    Orphan& orphan = orphans_.emplace_back(Orphan{span, kNone, false});
    if (uint32_t* head = waiting_.Find(parent_id)) {
      orphan.next = *head;
      *head = index;
    } else {
      waiting_.Insert(parent_id, index);
    }
    ++unresolved_;
    if (!parentless_.set) {  // else the orphans never decide the root again
      heap_.push_back(index);
      std::push_heap(heap_.begin(), heap_.end(), HeapOrder{this});
    }
  }

  bool HasOrphans() const { return unresolved_ > 0; }
  uint32_t orphan_count() const { return unresolved_; }

  // The span `parent_id` arrived: the orphans waiting for it become children; calls
  // `fn(const Span&)` for each.
  template <typename Fn>
  void ResolveOrphans(std::string_view parent_id, Fn&& fn) {
    const uint32_t* head = waiting_.Find(parent_id);
    if (head == nullptr) return;
    for (uint32_t i = *head; i != kNone; i = orphans_[i].next) {
      Orphan& orphan = orphans_[i];
      orphan.resolved = true;
      --unresolved_;
      Offer(orphan.span, &child_);
      fn(static_cast<const Span&>(orphan.span));
    }
    waiting_.Erase(parent_id);
  }

  // The root (its span ID may not be valid): null before any span.
  const Span* Root() {
    if (parentless_.set) {
      heap_.clear();
      heap_.shrink_to_fit();
      return &parentless_.span;
    }
    if (unresolved_ > 0) {
      while (orphans_[heap_.front()].resolved) {
        std::pop_heap(heap_.begin(), heap_.end(), HeapOrder{this});
        heap_.pop_back();
      }
      return &orphans_[heap_.front()].span;
    }
    return child_.set ? &child_.span : nullptr;
  }

  // Heap bytes held.
  size_t bytes() const {
    return orphans_.capacity() * sizeof(Orphan) + waiting_.bytes() +
           heap_.capacity() * sizeof(uint32_t);
  }

 private:
  static constexpr uint32_t kNone = 0xffffffff;
  struct Candidate {
    bool set = false;
    Span span;            // span.span_id is not kept: see span_id
    std::string span_id;  // a copy
  };
  struct Orphan {
    Span span;              // span.span_id in the arena
    uint32_t next = kNone;  // the next orphan waiting for the same parent
    bool resolved = false;
  };

  static bool Less(const Span& a, std::string_view a_id, const Span& b, std::string_view b_id) {
    if (a.start_ns != b.start_ns) return a.start_ns < b.start_ns;
    if (const int c = a_id.compare(b_id); c != 0) return c < 0;
    if (const int c = a.service_name.compare(b.service_name); c != 0) return c < 0;
    return a.operation_name < b.operation_name;
  }
  static void Offer(const Span& span, Candidate* best) {
    if (best->set && !Less(span, span.span_id, best->span, best->span_id)) return;
    best->set = true;
    best->span = span;
    best->span_id.assign(span.span_id);
    best->span.span_id = {};
  }
  // std::*_heap keep the largest first: the smallest orphan is first with the order reversed.
  struct HeapOrder {
    const TraceRoots* roots;
    bool operator()(uint32_t a, uint32_t b) const {
      const Span& x = roots->orphans_[a].span;
      const Span& y = roots->orphans_[b].span;
      return Less(y, y.span_id, x, x.span_id);
    }
  };

  Candidate parentless_;
  Candidate child_;
  std::vector<Orphan> orphans_;
  // Parent span ID -> the first orphan waiting for it (index into orphans_).
  terms_internal::SpanIdMap<uint32_t> waiting_;
  // Unresolved orphans (and resolved ones not dropped yet), smallest first.
  std::vector<uint32_t> heap_;
  uint32_t unresolved_ = 0;
};

}  // namespace tailtrace::storage
