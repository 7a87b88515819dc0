#include "query/json_buffer.h"

#include <algorithm>
#include <array>

#include "rapidjson/internal/dtoa.h"

namespace tailtrace::query {
namespace {

// For each byte: 0 when copied as is, else the character after the backslash ('u' = \u00XX).
constexpr std::array<char, 256> MakeEscapeTable() {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 'u';
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}
constexpr std::array<char, 256> kEscape = MakeEscapeTable();

// Two lower-case hex digits per byte value.
constexpr std::array<char, 512> MakeHexTable() {
  constexpr char kDigits[] = "0123456789abcdef";
  std::array<char, 512> t{};
  for (int b = 0; b < 256; ++b) {
    t[2 * b] = kDigits[b >> 4];
    t[2 * b + 1] = kDigits[b & 15];
  }
  return t;
}
constexpr std::array<char, 512> kHex = MakeHexTable();

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// Whether any of the 8 bytes of `x` needs escaping (< 0x20, '"' or '\\'). Exact: the classic
// "has a zero byte" / "has a byte less than n" tests never miss and, for the "any" question,
// never report a false positive.
inline bool NeedsEscape(uint64_t x) {
  const uint64_t quote = x ^ (kOnes * '"');
  const uint64_t backslash = x ^ (kOnes * '\\');
  const uint64_t below = (x - kOnes * 0x20) & ~x;
  const uint64_t zero_q = (quote - kOnes) & ~quote;
  const uint64_t zero_b = (backslash - kOnes) & ~backslash;
  return ((below | zero_q | zero_b) & kHighs) != 0;
}

inline char* PutEscapedByte(char* p, unsigned char c) {
  const char e = kEscape[c];
  if (e == 0) {
    *p = static_cast<char>(c);
    return p + 1;
  }
  p[0] = '\\';
  p[1] = e;
  if (e != 'u') return p + 2;
  constexpr char kUpper[] = "0123456789ABCDEF";
  p[2] = '0';
  p[3] = '0';
  p[4] = kUpper[c >> 4];
  p[5] = kUpper[c & 15];
  return p + 6;
}

}  // namespace

char* JsonBuffer::PutString(char* p, std::string_view s) {
  *p++ = '"';
  const char* in = s.data();
  const char* const end = in + s.size();
  while (end - in >= 8) {
    uint64_t x;
    std::memcpy(&x, in, 8);
    if (!NeedsEscape(x)) {
      std::memcpy(p, in, 8);
      p += 8;
      in += 8;
      continue;
    }
    for (int i = 0; i < 8; ++i) p = PutEscapedByte(p, static_cast<unsigned char>(in[i]));
    in += 8;
  }
  while (in < end) p = PutEscapedByte(p, static_cast<unsigned char>(*in++));
  *p++ = '"';
  return p;
}

char* JsonBuffer::PutHexString(char* p, std::string_view bytes) {
  *p++ = '"';
  for (const char b : bytes) {
    std::memcpy(p, &kHex[2 * static_cast<unsigned char>(b)], 2);
    p += 2;
  }
  *p++ = '"';
  return p;
}

void JsonBuffer::Double(double d) {
  // The same conversion as rapidjson's Writer::Double (Grisu2, at most 324 decimal places).
  char* p = Ensure(32);
  Commit(rapidjson::internal::dtoa(d, p, 324));
}

void JsonBuffer::Grow(size_t bytes) {
  // Doubling keeps appends amortized O(1); resize zero-fills, which costs far less than writing.
  buf_.resize(std::max(pos_ + bytes, std::max<size_t>(buf_.size() * 2, 4096)));
}

}  // namespace tailtrace::query
