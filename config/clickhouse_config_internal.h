#pragma once

// Private to config/: storage.backend and storage.clickhouse (the ClickHouse backend's options).

#include "storage/options.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {

// Reads `backend` and `clickhouse` of the `storage` mapping into out->backend and
// out->clickhouse. storage.clickhouse is read and checked whatever the backend, so that a config
// switches backends by its `backend` line alone.
void ParseStorageBackend(MapReader& map, storage::StoreOptions* out);

}  // namespace tailtrace::config::internal
