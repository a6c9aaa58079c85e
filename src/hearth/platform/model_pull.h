// `hearth model pull ORG/REPO[:FILE]`: downloads a GGUF file from a Hugging Face-compatible hub
// and registers it (ModelRegistry).
//
// The hub's file list comes from GET {endpoint}/api/models/{repo}/tree/main?recursive=true
// (path, size, lfs.oid = SHA-256), falling back to GET {endpoint}/api/models/{repo}
// (siblings[].rfilename, without sizes or hashes). FILE picks the file; without it the repo must
// hold exactly one .gguf (several are an error listing them). The bytes come from
// {endpoint}/{repo}/resolve/main/{file}, following redirects (to a CDN), into
// <data_dir>/downloads/<org>--<repo>--<file>[.<sha prefix>].partial. An interrupted download
// resumes from that file with a Range request (206 appends; 200 means the server ignored the
// range, and the download restarts from byte 0). Size and SHA-256 are checked against the
// hub's lfs size/oid and the X-Linked-Size / X-Linked-Etag headers when present; a mismatch
// deletes the partial file and fails. Only a verified file reaches the registry, which moves it
// into place: a half-written model is never registered.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "hearth/base/status.h"
#include "hearth/platform/http_fetch.h"
#include "hearth/platform/model_registry.h"

namespace hearth::platform {

struct PullSpec {
  std::string repo;  // "ORG/REPO"
  std::string file;  // empty: the repo's single .gguf
};
// "ORG/REPO" or "ORG/REPO:FILE" (FILE may name a sub-folder, "q8/model.gguf").
Result<PullSpec> ParsePullSpec(std::string_view text);

struct PullOptions {
  std::string endpoint;  // empty: $HF_ENDPOINT, else https://huggingface.co
  std::string name;      // registry name; empty: from the file name
  std::string token;     // bearer token; empty: $HF_TOKEN (if set)
  // Attempts for one pull; after a transient failure (connection lost, 5xx) the next attempt
  // resumes from the partial file.
  int attempts = 3;
  // Progress: bytes of the file present so far and its total when known.
  std::function<void(uint64_t done, std::optional<uint64_t> total)> progress;
  HttpFetchOptions http;
};

// The endpoint PullOptions::endpoint resolves to (no trailing '/').
std::string ResolveEndpoint(std::string_view endpoint);

Result<ModelRecord> PullModel(ModelRegistry& registry, std::string_view spec,
                              const PullOptions& options);

}  // namespace hearth::platform
