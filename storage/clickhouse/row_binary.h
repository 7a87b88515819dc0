#pragma once

// Private to storage/clickhouse/: ClickHouse's RowBinary format, which the store uses both to
// insert rows and to read query results (no text escaping either way). Integers and floats are
// little-endian at their width; String is a LEB128 length then the bytes; FixedString(N) is N
// bytes; Array(T) is a LEB128 element count then the elements; Date is UInt16 days since
// 1970-01-01. Columns follow each other in the table's (or the SELECT's) order.

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tailtrace::storage::clickhouse {

static_assert(std::endian::native == std::endian::little, "RowBinary is little-endian");

class RowBinaryWriter {
 public:
  explicit RowBinaryWriter(std::string* out) : out_(out) {}

  template <typename T>
  void Fixed(T value) {
    static_assert(std::is_arithmetic_v<T>);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    out_->append(bytes, sizeof(T));
  }
  void UInt8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void UInt16(uint16_t v) { Fixed(v); }
  void UInt32(uint32_t v) { Fixed(v); }
  void UInt64(uint64_t v) { Fixed(v); }
  void Int64(int64_t v) { Fixed(v); }
  void Float64(double v) { Fixed(v); }
  void Length(uint64_t n) {
    while (n >= 0x80) {
      out_->push_back(static_cast<char>((n & 0x7f) | 0x80));
      n >>= 7;
    }
    out_->push_back(static_cast<char>(n));
  }
  void String(std::string_view s) {
    Length(s.size());
    out_->append(s);
  }
  // FixedString(N): `s` must be exactly N bytes.
  void FixedString(std::string_view s) { out_->append(s); }

 private:
  std::string* out_;
};

// Reads values in order; every read returns false once the input is exhausted or malformed (and
// keeps returning false), so a caller checks ok() once per row.
class RowBinaryReader {
 public:
  explicit RowBinaryReader(std::string_view in) : in_(in) {}

  bool done() const { return ok_ && in_.empty(); }
  bool ok() const { return ok_; }

  template <typename T>
  bool Fixed(T* value) {
    if (!Need(sizeof(T))) return false;
    std::memcpy(value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool Length(uint64_t* n) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!Need(1)) return false;
      const auto byte = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *n = v;
        return true;
      }
    }
    return Fail();
  }
  // A view into the input.
  bool String(std::string_view* s) {
    uint64_t n = 0;
    if (!Length(&n) || !Need(n)) return false;
    *s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool FixedString(size_t n, std::string_view* s) {
    if (!Need(n)) return false;
    *s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || in_.size() < n) return Fail();
    return true;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }

  std::string_view in_;
  bool ok_ = true;
};

}  // namespace tailtrace::storage::clickhouse
