#pragma once

// Private to the pipeline's files (pipeline.cc, pipeline_replay.cc).

#include <string>

#include "proto/otlp_ids.h"

namespace tailtrace::collector {

// A trace found in the store when its spans were read back from the write-ahead log: its other
// spans join it as late spans of a kept trace (ShardCore::AssumeKept).
struct KnownKept {
  TraceId trace_id;
  std::string policy;
  double sample_rate = 1.0;
};

}  // namespace tailtrace::collector
