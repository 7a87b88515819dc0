#pragma once

// Private to config/: the tls, auth and cors sections of a listener.

#include "common/listener_security.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {

enum class CorsSupport { kNo, kYes };

// Reads `tls`, `auth` and (with CorsSupport::kYes) `cors` of `map` into `*out`, reporting errors
// (e.g. cert_file without key_file) with the key and line.
void ParseListenerSecurity(MapReader& map, CorsSupport cors, security::ListenerSecurity* out);

}  // namespace tailtrace::config::internal
