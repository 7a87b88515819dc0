#include "proto/otlp_ids.h"

#include "absl/strings/str_cat.h"

namespace tailtrace {
namespace {

bool AllZero(std::string_view bytes) {
  for (char c : bytes) {
    if (c != 0) return false;
  }
  return true;
}

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The input as quoted in an error: at most 64 bytes, non-printable bytes as \xNN, so messages
// stay short and valid UTF-8 whatever a client sent.
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 64;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  out += text.size() > kMax ? "\"..." : "\"";
  return out;
}

}  // namespace

bool IsValidTraceId(std::string_view bytes) {
  return bytes.size() == kTraceIdBytes && !AllZero(bytes);
}

bool IsValidSpanId(std::string_view bytes) {
  return bytes.size() == kSpanIdBytes && !AllZero(bytes);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xf];
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(std::string_view hex, size_t expected_bytes,
                                      bool allow_short) {
  const size_t want = expected_bytes * 2;
  if (hex.size() != want && !(allow_short && !hex.empty() && hex.size() < want)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", want, " hex digits, got ", hex.size(), " in ", Quote(hex)));
  }
  const std::string_view original = hex;
  std::string padded;
  if (hex.size() < want) {
    padded.assign(want - hex.size(), '0');
    padded.append(hex);
    hex = padded;
  }
  std::string out(expected_bytes, '\0');
  for (size_t i = 0; i < expected_bytes; ++i) {
    const int hi = HexNibble(hex[2 * i]);
    const int lo = HexNibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid hex digit in ", Quote(original)));
    }
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace tailtrace
