#include "hearth/platform/model_registry.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "hearth/platform/crypto.h"
#include "hearth/platform/model_metadata.h"

namespace hearth::platform {
namespace fs = std::filesystem;
namespace {

constexpr size_t kCopyChunk = size_t{1} << 20;

std::string ErrnoText(int err) { return std::strerror(err); }

bool EndsWithGguf(std::string_view name) {
  if (name.size() < 5) return false;
  std::string tail(name.substr(name.size() - 5));
  std::transform(tail.begin(), tail.end(), tail.begin(),
                 [](char c) { return static_cast<char>(std::tolower(c)); });
  return tail == ".gguf";
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error a deferred close would swallow.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Removes a path (file or directory tree) on scope exit unless released.
class RemoveOnFailure {
 public:
  explicit RemoveOnFailure(fs::path path) : path_(std::move(path)) {}
  ~RemoveOnFailure() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  RemoveOnFailure(const RemoveOnFailure&) = delete;
  RemoveOnFailure& operator=(const RemoveOnFailure&) = delete;
  void Reset(fs::path path) { path_ = std::move(path); }
  void Release() { path_.clear(); }

 private:
  fs::path path_;
};

Status FsyncPath(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return Status::IoError(fmt::format("cannot sync {}: {}", path.string(), ErrnoText(errno)));
  }
  return Status::Ok();
}

// Reads `path` to its end in chunks, passing each to `consume` (which may fail the read), and
// returns the SHA-256 of all of it in lower-case hex.
template <typename Consume>
Result<std::string> HashChunks(const fs::path& path, Consume&& consume) {
  FileDescriptor in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    return Status::IoError(fmt::format("cannot open {}: {}", path.string(), ErrnoText(errno)));
  }
  Sha256Hasher hasher;
  std::unique_ptr<char[]> buffer(new char[kCopyChunk]);
  for (;;) {
    ssize_t got = ::read(in.get(), buffer.get(), kCopyChunk);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      return Status::IoError(fmt::format("cannot read {}: {}", path.string(), ErrnoText(errno)));
    }
    if (got == 0) break;
    const std::string_view chunk(buffer.get(), static_cast<size_t>(got));
    hasher.Update(chunk);
    HEARTH_RETURN_IF_ERROR(consume(chunk));
  }
  return hasher.HexDigest();
}

// Copies `from` to the new file `to` (which must not exist), hashing the bytes on the way, and
// fsyncs the copy. Returns the SHA-256 in lower-case hex.
Result<std::string> CopyAndHash(const fs::path& from, const fs::path& to) {
  FileDescriptor out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) {
    return Status::IoError(fmt::format("cannot create {}: {}", to.string(), ErrnoText(errno)));
  }
  auto write_chunk = [&](std::string_view chunk) -> Status {
    for (size_t done = 0; done < chunk.size();) {
      ssize_t put = ::write(out.get(), chunk.data() + done, chunk.size() - done);
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) {
        return Status::IoError(fmt::format("cannot write {}: {}", to.string(), ErrnoText(errno)));
      }
      done += static_cast<size_t>(put);
    }
    return Status::Ok();
  };
  HEARTH_ASSIGN_OR_RETURN(std::string digest, HashChunks(from, write_chunk));
  if (::fsync(out.get()) != 0 || out.Close() != 0) {
    return Status::IoError(fmt::format("cannot write {}: {}", to.string(), ErrnoText(errno)));
  }
  return digest;
}

// The GGUF file `path` names: itself, or the single *.gguf directly inside a directory.
Result<fs::path> ResolveInput(const fs::path& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) return Status::IoError(fmt::format("{}: {}", path.string(), ec.message()));
  auto status = fs::status(absolute, ec);
  if (ec || !fs::exists(status)) {
    return Status::NotFound(fmt::format("{}: no such file or directory", absolute.string()));
  }
  if (fs::is_regular_file(status)) return absolute.lexically_normal();
  if (!fs::is_directory(status)) {
    return Status::InvalidArgument(
        fmt::format("{}: not a regular file or directory", absolute.string()));
  }
  std::vector<std::string> candidates;
  for (const auto& entry : fs::directory_iterator(absolute, ec)) {
    std::error_code type_ec;
    if (entry.is_regular_file(type_ec) && EndsWithGguf(entry.path().filename().string())) {
      candidates.push_back(entry.path().filename().string());
    }
  }
  if (ec)
    return Status::IoError(fmt::format("cannot list {}: {}", absolute.string(), ec.message()));
  std::sort(candidates.begin(), candidates.end());
  if (candidates.empty()) {
    return Status::NotFound(fmt::format("directory {} holds no .gguf file", absolute.string()));
  }
  if (candidates.size() > 1) {
    std::string list;
    for (const auto& c : candidates) list += (list.empty() ? "" : ", ") + c;
    return Status::InvalidArgument(
        fmt::format("directory {} holds {} .gguf files ({}); import one of them by its path",
                    absolute.string(), candidates.size(), list));
  }
  return (absolute / candidates[0]).lexically_normal();
}

}  // namespace

// --- hashing -----------------------------------------------------------------------------------

struct Sha256Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256Hasher::Sha256Hasher() : impl_(new Impl) {
  impl_->ctx = EVP_MD_CTX_new();
  // Failure here means OpenSSL cannot allocate or lacks SHA-256: a broken process, not input.
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(impl_->ctx);
  delete impl_;
}

void Sha256Hasher::Update(std::string_view bytes) {
  if (EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size()) != 1) std::abort();
}

std::string Sha256Hasher::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, digest, &size) != 1) std::abort();
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

Result<std::string> Sha256OfFile(const fs::path& path) {
  return HashChunks(path, [](std::string_view) { return Status::Ok(); });
}

// --- the registry ------------------------------------------------------------------------------

ModelRegistry::ModelRegistry(Store& store, fs::path data_dir)
    : store_(store), data_dir_(fs::absolute(data_dir).lexically_normal()) {
  // "/x/" and "/x" must give the same models_dir() (Delete compares paths).
  if (data_dir_.has_filename() == false && data_dir_ != data_dir_.root_path()) {
    data_dir_ = data_dir_.parent_path();
  }
}

std::string ModelRegistry::NameFromFileName(std::string_view file_name) {
  if (EndsWithGguf(file_name)) file_name.remove_suffix(5);
  std::string name;
  for (char c : file_name) {
    bool allowed = std::isalnum(static_cast<unsigned char>(c)) != 0 && c > 0;
    name += allowed || c == '.' || c == '_' || c == '-' ? c : '-';
  }
  size_t first = 0;
  while (first < name.size() && std::isalnum(static_cast<unsigned char>(name[first])) == 0) {
    ++first;
  }
  name.erase(0, first);
  if (name.size() > 128) name.resize(128);
  return name.empty() ? "model" : name;
}

Result<ModelRecord> ModelRegistry::Import(const fs::path& path, const ImportOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(fs::path input, ResolveInput(path));
  std::string file_name = options.file_name.empty() ? input.filename().string() : options.file_name;
  if (file_name.empty() || file_name == "." || file_name == ".." ||
      file_name.find('/') != std::string::npos) {
    return Status::InvalidArgument(fmt::format("bad model file name '{}'", file_name));
  }
  std::string name = options.name.empty() ? NameFromFileName(file_name) : options.name;
  HEARTH_RETURN_IF_ERROR(ValidateModelName(name));

  // Cheap refusals first, before any byte is copied.
  auto taken = store_.FindModelByName(name);
  if (taken.ok()) {
    return Status::AlreadyExists(fmt::format("model '{}' already exists", taken->name));
  }
  if (taken.status().code() != StatusCode::kNotFound) return taken.status();
  auto source_check = InspectModelFile(input);
  if (!source_check.ok()) {
    return Status(source_check.status().code(),
                  fmt::format("not a usable GGUF model: {}", source_check.status().message()));
  }

  fs::path models = models_dir();
  fs::path final_dir = models / name;
  std::error_code ec;
  fs::create_directories(models, ec);
  if (ec)
    return Status::IoError(fmt::format("cannot create {}: {}", models.string(), ec.message()));
  if (fs::exists(final_dir, ec)) {
    return Status::FailedPrecondition(fmt::format(
        "{} exists but no model '{}' is registered (left by an interrupted import?); remove it "
        "and retry",
        final_dir.string(), name));
  }

  HEARTH_ASSIGN_OR_RETURN(std::string random, RandomBytes(6));
  fs::path staging = models / fmt::format(".staging-{}-{}", name, HexEncode(random));
  if (!fs::create_directory(staging, ec) || ec) {
    return Status::IoError(fmt::format("cannot create {}: {}", staging.string(),
                                       ec ? ec.message() : "it already exists"));
  }
  RemoveOnFailure cleanup(staging);
  fs::path staged_file = staging / file_name;

  std::string sha256;
  bool moved = false;
  if (options.move) {
    if (::rename(input.c_str(), staged_file.c_str()) == 0) {
      moved = true;
    } else if (errno != EXDEV) {
      return Status::IoError(fmt::format("cannot move {} into {}: {}", input.string(),
                                         staging.string(), ErrnoText(errno)));
    }
  }
  if (moved) {
    if (!options.sha256.empty()) {
      sha256 = options.sha256;
    } else {
      HEARTH_ASSIGN_OR_RETURN(sha256, Sha256OfFile(staged_file));
    }
  } else {
    HEARTH_ASSIGN_OR_RETURN(sha256, CopyAndHash(input, staged_file));
    if (!options.sha256.empty() && options.sha256 != sha256) {
      return Status::Corruption(fmt::format("{} changed while it was imported: SHA-256 {}, not {}",
                                            input.string(), sha256, options.sha256));
    }
    if (options.move) fs::remove(input, ec);  // a move across file systems: copy, then unlink
  }

  // Describe the stored bytes, not the input, which may have changed since it was checked.
  auto metadata = InspectModelFile(staged_file);
  if (!metadata.ok()) {
    return Status(metadata.status().code(),
                  fmt::format("not a usable GGUF model: {}", metadata.status().message()));
  }
  uintmax_t size = fs::file_size(staged_file, ec);
  if (ec)
    return Status::IoError(fmt::format("cannot stat {}: {}", staged_file.string(), ec.message()));

  HEARTH_RETURN_IF_ERROR(FsyncPath(staging));
  if (::rename(staging.c_str(), final_dir.c_str()) != 0) {
    return Status::IoError(fmt::format("cannot move {} to {}: {}", staging.string(),
                                       final_dir.string(), ErrnoText(errno)));
  }
  cleanup.Reset(final_dir);
  HEARTH_RETURN_IF_ERROR(FsyncPath(models));

  NewModel record;
  record.name = name;
  record.source = options.source.empty() ? "file:" + input.string() : options.source;
  record.path = (final_dir / file_name).string();
  record.size_bytes = static_cast<int64_t>(size);
  record.sha256 = sha256;
  record.metadata_json = metadata->dump();
  HEARTH_ASSIGN_OR_RETURN(ModelRecord created, store_.CreateModel(record));
  cleanup.Release();
  return created;
}

Result<std::vector<ModelRecord>> ModelRegistry::List() { return store_.ListModels(); }

Result<ModelRecord> ModelRegistry::Show(std::string_view name) {
  return store_.FindModelByName(name);
}

Status ModelRegistry::Delete(std::string_view name) {
  HEARTH_ASSIGN_OR_RETURN(ModelRecord model, store_.FindModelByName(name));
  HEARTH_RETURN_IF_ERROR(store_.DeleteModel(model.id));
  // Only ever a directory the registry made: <data_dir>/models/<name>.
  fs::path dir = fs::path(model.path).parent_path();
  if (dir.parent_path() != models_dir() || dir.filename().string().starts_with(".")) {
    return Status::Ok();
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) {
    return Status::IoError(
        fmt::format("model '{}' was removed from the registry but {} could not be deleted: {}",
                    model.name, dir.string(), ec.message()));
  }
  return Status::Ok();
}

}  // namespace hearth::platform
