#pragma once

// Private to config/: the `exporters` section (exporters.otlp, otelcol's key names) and the
// checks it shares with `storage.enabled`; the client `tls` block it shares with
// storage.clickhouse.

#include <string>

#include "config/config.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {

// Where ReadClientTls puts the keys of a client's `tls` block.
struct ClientTlsTargets {
  std::string* ca_file;
  std::string* cert_file;
  std::string* key_file;
  bool* insecure_skip_verify;
};

// Reads ca_file, cert_file, key_file (non-empty strings) and insecure_skip_verify of a client's
// `tls` block (exporters.otlp.tls, storage.clickhouse.tls), and reports cert_file without key_file
// or the reverse. `*line0` becomes the line of the last file key met. The caller reads its own
// keys and then reports the unknown ones.
void ReadClientTls(MapReader& map, const ClientTlsTargets& out, int* line0);

// Reads `exporters` (an absent or empty section: no exporter) into config->otlp_exporter.
void ParseExporters(MapReader map, DaemonConfig* config);

}  // namespace tailtrace::config::internal
