#pragma once

// A minimal JSON output buffer for the hot rendering paths of the query API (Jaeger traces). It
// writes exactly the bytes rapidjson's Writer<StringBuffer> (UTF-8, default flags) writes for the
// same values, so both can be mixed in one response:
// - strings: '"' and '\\' are escaped with a backslash; 0x08 \b, 0x09 \t, 0x0A \n, 0x0C \f,
//   0x0D \r; the other bytes below 0x20 as \u00XX (upper-case hex). Every other byte, 0x7F and
//   non-ASCII (even invalid UTF-8) included, is copied as is.
// - integers in decimal; finite doubles as rapidjson's Grisu2 dtoa writes them ("1.0", "0.1").
// The caller writes the structure (braces, commas, keys) itself, with Raw for literal fragments.
//
// Not thread-safe: one buffer per rendering thread. Growth keeps the written bytes.

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tailtrace::query {

class JsonBuffer {
 public:
  JsonBuffer() = default;
  JsonBuffer(const JsonBuffer&) = delete;
  JsonBuffer& operator=(const JsonBuffer&) = delete;

  // Makes room for at least `bytes` more bytes without a reallocation.
  void Reserve(size_t bytes) { Ensure(bytes); }

  // Appends bytes as they are (literal JSON fragments, pre-rendered values).
  void Raw(std::string_view s) {
    char* p = Ensure(s.size());
    std::memcpy(p, s.data(), s.size());
    pos_ += s.size();
  }
  void Char(char c) {
    *Ensure(1) = c;
    ++pos_;
  }
  // `s` as a quoted, escaped JSON string.
  void String(std::string_view s) { Commit(PutString(Ensure(MaxStringBytes(s.size())), s)); }
  // `bytes` as a quoted string of lower-case hex (2 characters per byte).
  void HexString(std::string_view bytes) {
    Commit(PutHexString(Ensure(bytes.size() * 2 + 2), bytes));
  }
  void Uint64(uint64_t v) { Commit(PutUint64(Ensure(20), v)); }
  void Int64(int64_t v) {
    char* p = Ensure(20);
    Commit(std::to_chars(p, p + 20, v).ptr);
  }
  // Requires a finite `d` (rapidjson's Writer refuses the others too).
  void Double(double d);

  // Replaces a trailing ',' (the separator after the last element) by `close`, or appends
  // `close` when the last byte is not a ',' (an empty array or object).
  void Close(char close) {
    if (pos_ > 0 && buf_[pos_ - 1] == ',') {
      buf_[pos_ - 1] = close;
    } else {
      Char(close);
    }
  }

  size_t size() const { return pos_; }
  std::string_view view() const { return std::string_view(buf_.data(), pos_); }
  void Clear() { pos_ = 0; }
  // The written bytes; the buffer is empty afterwards.
  std::string Release() {
    buf_.resize(pos_);
    pos_ = 0;
    std::string out = std::move(buf_);
    buf_.clear();
    return out;
  }

  // ---- Unchecked writing: Ensure(n) once, then Put* up to n bytes, then Commit. ----

  // The longest a string of `n` bytes can be once quoted and escaped.
  static constexpr size_t MaxStringBytes(size_t n) { return n * 6 + 2; }
  // A pointer to at least `bytes` writable bytes at the end of the buffer.
  char* Ensure(size_t bytes) {
    if (buf_.size() - pos_ < bytes) Grow(bytes);
    return data() + pos_;
  }
  // Ends an unchecked write at `end` (a pointer into the region Ensure returned).
  void Commit(char* end) { pos_ = static_cast<size_t>(end - data()); }

  static char* PutRaw(char* p, std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
  }
  // Writes `s` quoted and escaped; needs MaxStringBytes(s.size()) bytes.
  static char* PutString(char* p, std::string_view s);
  // Writes `bytes` as quoted lower-case hex; needs 2 * bytes.size() + 2 bytes.
  static char* PutHexString(char* p, std::string_view bytes);
  // Needs 20 bytes.
  static char* PutUint64(char* p, uint64_t v) { return std::to_chars(p, p + 20, v).ptr; }

 private:
  char* data() { return buf_.data(); }
  void Grow(size_t bytes);

  // buf_.size() is the capacity in use; bytes from pos_ on are scratch.
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace tailtrace::query
