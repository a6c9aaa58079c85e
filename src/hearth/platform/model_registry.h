// The model registry: GGUF files the platform can deploy, kept under <data_dir>/models and
// recorded in the Store (ModelRecord).
//
// Import puts a model in atomically. The bytes are copied into a staging directory
// (<data_dir>/models/.staging-*) while their SHA-256 is computed in the same pass, fsync'd, the
// staged copy is validated as GGUF and described (the `hearth model inspect --json` document),
// the staging directory is renamed to <data_dir>/models/<name>, and only then is the store row
// written. Any failure removes what was staged or renamed, so it leaves neither a registered
// model nor stray files. A model is served from <data_dir>/models/<name>/<file name>.
//
// Files are copied, never hard-linked: a hard link shares the inode with the user's file, and a
// later in-place rewrite of that file would silently change a registered model whose SHA-256 is
// on record. (A pulled download already lives in the data directory and is moved, not copied.)
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/platform/store.h"

namespace hearth::platform {

struct ImportOptions {
  // Registry name; empty: derived from the file name without ".gguf" (characters outside
  // [A-Za-z0-9._-] become '-').
  std::string name;
  // ModelRecord::source; empty: "file:<absolute path of the input>".
  std::string source;
  // Move the file into the registry instead of copying it (a download in the data directory).
  // Falls back to a copy when the rename crosses file systems.
  bool move = false;
  // The stored file's name; empty: the input's (a download's ".partial" name is replaced).
  std::string file_name;
  // The file's SHA-256 (lower-case hex) when the caller has already computed and verified it
  // over exactly these bytes (pull does); empty: computed here.
  std::string sha256;
};

class ModelRegistry {
 public:
  ModelRegistry(Store& store, std::filesystem::path data_dir);

  // `path` is a GGUF file, or a directory holding exactly one *.gguf file (not searched
  // recursively; several are an error that lists them). A file that is not GGUF (or a damaged
  // one) is refused with the GGUF reader's error; a taken name with kAlreadyExists before any
  // byte is copied.
  Result<ModelRecord> Import(const std::filesystem::path& path, const ImportOptions& options = {});

  Result<std::vector<ModelRecord>> List();
  Result<ModelRecord> Show(std::string_view name);
  // Refused with kFailedPrecondition while a deployment uses the model; otherwise removes the
  // record and then the model's directory.
  Status Delete(std::string_view name);

  std::filesystem::path models_dir() const { return data_dir_ / "models"; }

  // The registry name derived from a file name ("Qwen2.5 0.5B.Q8_0.gguf" -> "Qwen2.5-0.5B.Q8_0").
  static std::string NameFromFileName(std::string_view file_name);

 private:
  Store& store_;
  std::filesystem::path data_dir_;
};

// Lower-case hex SHA-256 of a file's contents (streamed; OpenSSL EVP).
Result<std::string> Sha256OfFile(const std::filesystem::path& path);

// Incremental SHA-256 (OpenSSL EVP) for callers that hash while they stream.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(std::string_view bytes);
  std::string HexDigest();  // finishes the hash; call once

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace hearth::platform
