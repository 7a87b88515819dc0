#include "collector/buffered_trace.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#include "google/protobuf/io/coded_stream.h"
#include "memory_estimate.h"

namespace tailtrace::collector {

using google::protobuf::io::CodedOutputStream;
using opentelemetry::proto::trace::v1::TracesData;

namespace {

// Wire tags (field number << 3 | wire type 2, length-delimited). Field 1 is `resource_spans`
// in TracesData, `resource` in ResourceSpans and `scope` in ScopeSpans; field 2 is
// `scope_spans` in ResourceSpans and `spans` in ScopeSpans.
constexpr uint8_t kField1 = (1 << 3) | 2;
constexpr uint8_t kField2 = (2 << 3) | 2;

void AppendVarint(uint64_t value, std::string* out) {
  uint8_t buf[10];
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(value, buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
}

}  // namespace

// ---- BlockPool ----

const uint64_t BlockPool::kHeapBytes = MallocBytes(BlockPool::kAllocBytes);

BlockPool::~BlockPool() {
  while (free_ != nullptr) std::free(std::exchange(free_, free_->next));
}

BlockPool::Block* BlockPool::Allocate() {
  if (free_ != nullptr) {
    --free_count_;
    return std::exchange(free_, free_->next);
  }
  void* memory = std::malloc(kAllocBytes);
  if (memory == nullptr) std::abort();  // like operator new without exceptions
  return static_cast<Block*>(memory);
}

void BlockPool::Free(Block* head, Block* tail, size_t count) {
  if (head == nullptr) return;
  tail->next = free_;
  free_ = head;
  free_count_ += count;
  while (free_count_ > kMaxFreeBlocks) {
    std::free(std::exchange(free_, free_->next));
    --free_count_;
  }
}

// ---- SpanRope ----

SpanRope::SpanRope(SpanRope&& other) noexcept
    : head_(std::exchange(other.head_, nullptr)),
      tail_(std::exchange(other.tail_, nullptr)),
      tail_used_(std::exchange(other.tail_used_, 0)),
      blocks_(std::exchange(other.blocks_, 0)) {}

SpanRope& SpanRope::operator=(SpanRope&& other) noexcept {
  if (this != &other) {
    FreeBlocks();
    head_ = std::exchange(other.head_, nullptr);
    tail_ = std::exchange(other.tail_, nullptr);
    tail_used_ = std::exchange(other.tail_used_, 0);
    blocks_ = std::exchange(other.blocks_, 0);
  }
  return *this;
}

SpanRope::~SpanRope() { FreeBlocks(); }

void SpanRope::FreeBlocks() {
  for (BlockPool::Block* b = head_; b != nullptr;) std::free(std::exchange(b, b->next));
  head_ = tail_ = nullptr;
  tail_used_ = blocks_ = 0;
}

void SpanRope::Append(const void* data, size_t n, BlockPool* pool) {
  const char* in = static_cast<const char*>(data);
  while (n > 0) {
    if (tail_ == nullptr || tail_used_ == BlockPool::kDataBytes) {
      BlockPool::Block* b = pool->Allocate();
      b->next = nullptr;
      if (tail_ == nullptr) {
        head_ = b;
      } else {
        tail_->next = b;
      }
      tail_ = b;
      tail_used_ = 0;
      ++blocks_;
    }
    const size_t take = std::min(n, BlockPool::kDataBytes - tail_used_);
    std::memcpy(tail_->data() + tail_used_, in, take);
    tail_used_ += take;
    in += take;
    n -= take;
  }
}

void SpanRope::Release(BlockPool* pool) {
  pool->Free(head_, tail_, blocks_);
  head_ = tail_ = nullptr;
  tail_used_ = blocks_ = 0;
}

template <typename F>
bool SpanRope::Reader::Consume(size_t n, F&& f) {
  // Check first that n bytes remain, so that a short read consumes nothing.
  if (rope_->size() - consumed_ < n) return false;
  consumed_ += n;
  while (n > 0) {
    const size_t end = block_ == rope_->tail_ ? rope_->tail_used_ : BlockPool::kDataBytes;
    if (offset_ == end) {
      block_ = block_->next;
      offset_ = 0;
      continue;
    }
    const size_t take = std::min(n, end - offset_);
    f(block_->data() + offset_, take);
    offset_ += take;
    n -= take;
  }
  return true;
}

bool SpanRope::Reader::Read(void* out, size_t n) {
  char* to = static_cast<char*>(out);
  return Consume(n, [&to](const char* p, size_t k) {
    std::memcpy(to, p, k);
    to += k;
  });
}

bool SpanRope::Reader::AppendTo(std::string* out, size_t n) {
  return Consume(n, [out](const char* p, size_t k) { out->append(p, k); });
}

bool SpanRope::Reader::Skip(size_t n) {
  return Consume(n, [](const char*, size_t) {});
}

bool SpanRope::Reader::AtEnd() const { return consumed_ == rope_->size(); }

// ---- Wire encoding ----

uint64_t SpanEntryBytes(uint64_t span_size) {
  return 1 + CodedOutputStream::VarintSize64(span_size) + span_size;
}

size_t WriteSpanEntryHeader(uint64_t span_size, char* target) {
  auto* p = reinterpret_cast<uint8_t*>(target);
  *p++ = kField2;
  p = CodedOutputStream::WriteVarint64ToArray(span_size, p);
  return static_cast<size_t>(reinterpret_cast<char*>(p) - target);
}

void ReleaseInterned(const SpanBuffer& buffer, InternPool* pool) {
  SpanRope::Reader reader(buffer.groups);
  GroupHeader header;
  while (reader.Read(&header, sizeof(header))) {
    pool->Release(header.resource);
    pool->Release(header.scope);
    if (!reader.Skip(header.spans * sizeof(SpanFacts))) break;
  }
}

bool ForEachSpanFacts(const SpanBuffer& buffer,
                      absl::FunctionRef<void(std::string_view, const SpanFacts&)> fn) {
  SpanRope::Reader reader(buffer.groups);
  GroupHeader g;
  while (reader.Read(&g, sizeof(g))) {
    for (uint64_t i = 0; i < g.spans; ++i) {
      SpanFacts facts;
      if (!reader.Read(&facts, sizeof(facts))) return false;
      fn(g.resource->bytes, facts);
    }
  }
  return true;
}

bool AssembleSpans(const SpanBuffer& buffer, std::string* bytes) {
  bytes->clear();
  // The TracesData wire encoding of each group: resource_spans { <resource key>
  // scope_spans { <scope key> <span entries> } }.
  SpanRope::Reader groups(buffer.groups);
  SpanRope::Reader spans(buffer.spans);
  GroupHeader g;
  while (groups.Read(&g, sizeof(g))) {
    const uint64_t scope_len = g.scope->bytes.size() + g.span_bytes;
    const uint64_t resource_len =
        g.resource->bytes.size() + 1 + CodedOutputStream::VarintSize64(scope_len) + scope_len;
    bytes->push_back(static_cast<char>(kField1));
    AppendVarint(resource_len, bytes);
    bytes->append(g.resource->bytes);
    bytes->push_back(static_cast<char>(kField2));
    AppendVarint(scope_len, bytes);
    bytes->append(g.scope->bytes);
    if (!spans.AppendTo(bytes, g.span_bytes) || !groups.Skip(g.spans * sizeof(SpanFacts))) {
      bytes->clear();  // a truncated group would not parse
      return false;
    }
  }
  return true;
}

bool MaterializeSpans(const SpanBuffer& buffer, std::string* bytes, TracesData* out) {
  out->Clear();
  return AssembleSpans(buffer, bytes) && out->ParseFromString(*bytes);
}

}  // namespace tailtrace::collector
