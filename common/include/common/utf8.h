#pragma once

// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) and a
// rendering of arbitrary bytes that is always valid UTF-8, for quoting input in messages.
// Thread-safe: every function is pure.

#include <cstddef>
#include <string>
#include <string_view>

namespace tailtrace {

// The offset of the first byte of the first invalid or truncated sequence in `s`, or
// std::string_view::npos when `s` is valid UTF-8.
size_t FindInvalidUtf8(std::string_view s);

// `s` with every byte that is not part of a valid UTF-8 sequence replaced by the four characters
// \xNN (hex, lower case); valid text is copied unchanged. The result is valid UTF-8.
std::string SanitizeUtf8(std::string_view s);

}  // namespace tailtrace
