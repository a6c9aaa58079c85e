// The JSON description of a GGUF model that `hearth model inspect --json` prints and the model
// registry stores as ModelRecord::metadata_json: one function, so the two never drift apart.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "hearth/base/status.h"
#include "hearth/gguf/model_info.h"

namespace hearth::platform {

nlohmann::json ModelInfoJson(const gguf::ModelInfo& info, const gguf::MemoryEstimate& memory);

// Opens `path` as GGUF (every structural check of GgufFile::Open) and describes it with the
// memory estimate for (ctx, parallel); ctx 0 means the model's own context length. A file that
// is not GGUF, or not a model, fails with the gguf reader's error, prefixed by the path.
Result<nlohmann::json> InspectModelFile(const std::filesystem::path& path, int64_t ctx = 0,
                                        int64_t parallel = 1);

}  // namespace hearth::platform
