#include "hearth/platform/model_pull.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

namespace hearth::platform {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kDefaultEndpoint = "https://huggingface.co";

struct RemoteFile {
  std::string path;
  std::optional<uint64_t> size;
  std::string sha256;  // lower-case hex; empty when the hub did not say
};

bool IsRepoPart(std::string_view part) {
  return !part.empty() && part.size() <= 96 && part != "." && part != ".." &&
         std::all_of(part.begin(), part.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

bool IsSha256Hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsGgufName(std::string_view path) {
  if (path.size() < 5) return false;
  std::string tail(path.substr(path.size() - 5));
  for (char& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return tail == ".gguf";
}

// Percent-encodes each path segment (keeps '/').
std::string EncodePath(std::string_view path) {
  std::string out;
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::optional<uint64_t> ParseUint(std::string_view text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

Result<std::vector<RemoteFile>> ParseTree(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_array()) return Status::Corruption("the tree listing is not a JSON array");
  std::vector<RemoteFile> files;
  for (const auto& entry : json) {
    if (!entry.is_object() || entry.value("type", "") != "file") continue;
    if (!entry.contains("path") || !entry["path"].is_string()) continue;
    RemoteFile file;
    file.path = entry["path"].get<std::string>();
    if (entry.contains("size") && entry["size"].is_number_unsigned()) {
      file.size = entry["size"].get<uint64_t>();
    }
    if (entry.contains("lfs") && entry["lfs"].is_object()) {
      const auto& lfs = entry["lfs"];
      if (lfs.contains("oid") && lfs["oid"].is_string()) {
        std::string oid = lfs["oid"].get<std::string>();
        if (oid.starts_with("sha256:")) oid.erase(0, 7);
        if (IsSha256Hex(oid)) file.sha256 = oid;
      }
      if (lfs.contains("size") && lfs["size"].is_number_unsigned()) {
        file.size = lfs["size"].get<uint64_t>();
      }
    }
    files.push_back(std::move(file));
  }
  return files;
}

Result<std::vector<RemoteFile>> ParseSiblings(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("siblings") || !json["siblings"].is_array()) {
    return Status::Corruption("the model info has no siblings list");
  }
  std::vector<RemoteFile> files;
  for (const auto& sibling : json["siblings"]) {
    if (sibling.is_object() && sibling.contains("rfilename") && sibling["rfilename"].is_string()) {
      files.push_back(RemoteFile{sibling["rfilename"].get<std::string>(), std::nullopt, ""});
    }
  }
  return files;
}

Result<std::vector<RemoteFile>> ListRepoFiles(const std::string& endpoint, const std::string& repo,
                                              const HttpHeaders& headers,
                                              const HttpFetchOptions& http) {
  std::string tree_url = fmt::format("{}/api/models/{}/tree/main?recursive=true", endpoint, repo);
  auto tree = HttpGetText(tree_url, headers, http);
  if (tree.ok()) {
    auto files = ParseTree(*tree);
    if (files.ok()) return files;
  } else if (tree.status().code() == StatusCode::kUnauthenticated ||
             tree.status().code() == StatusCode::kPermissionDenied ||
             tree.status().code() == StatusCode::kUnavailable ||
             tree.status().code() == StatusCode::kDeadlineExceeded) {
    return tree.status();
  }
  // Hubs without the tree API: the model info lists file names only.
  std::string info_url = fmt::format("{}/api/models/{}", endpoint, repo);
  HEARTH_ASSIGN_OR_RETURN(std::string info, HttpGetText(info_url, headers, http));
  auto files = ParseSiblings(info);
  if (!files.ok()) return files.status().WithContext(fmt::format("GET {}", info_url));
  return files;
}

Result<RemoteFile> PickFile(const std::vector<RemoteFile>& files, const PullSpec& spec) {
  std::vector<const RemoteFile*> ggufs;
  for (const RemoteFile& f : files) {
    if (IsGgufName(f.path)) ggufs.push_back(&f);
  }
  std::string list;
  for (const RemoteFile* f : ggufs) list += (list.empty() ? "" : ", ") + f->path;
  if (!spec.file.empty()) {
    for (const RemoteFile& f : files) {
      if (f.path == spec.file) return f;
    }
    return Status::NotFound(fmt::format("{} has no file '{}'{}", spec.repo, spec.file,
                                        ggufs.empty() ? "" : " (its .gguf files: " + list + ")"));
  }
  if (ggufs.empty()) return Status::NotFound(fmt::format("{} holds no .gguf file", spec.repo));
  if (ggufs.size() > 1) {
    return Status::InvalidArgument(fmt::format(
        "{} holds {} .gguf files; choose one with {}:FILE: {}", spec.repo, ggufs.size(),
        spec.repo, list));
  }
  return *ggufs[0];
}

std::string Unquote(std::string text) {
  if (text.starts_with("W/")) text.erase(0, 2);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  return text;
}

// What the hub says the file is, from the listing and the download's headers.
struct Expectation {
  std::optional<uint64_t> size;
  std::string sha256;
  std::string size_from, sha_from;  // where each came from, for messages
};

Status Merge(Expectation& expect, const HttpHeaders& headers, std::string_view file) {
  if (auto linked = FindHeader(headers, "x-linked-size")) {
    auto size = ParseUint(*linked);
    if (size) {
      if (expect.size && *expect.size != *size) {
        return Status::Corruption(fmt::format(
            "{}: the hub reports two sizes ({} from {}, {} from X-Linked-Size)", file,
            *expect.size, expect.size_from, *size));
      }
      expect.size = size;
      expect.size_from = "X-Linked-Size";
    }
  }
  if (auto etag = FindHeader(headers, "x-linked-etag")) {
    std::string sha = Unquote(*etag);
    if (IsSha256Hex(sha)) {
      if (!expect.sha256.empty() && expect.sha256 != sha) {
        return Status::Corruption(fmt::format(
            "{}: the hub reports two SHA-256 values ({} from {}, {} from X-Linked-Etag)", file,
            expect.sha256, expect.sha_from, sha));
      }
      expect.sha256 = sha;
      expect.sha_from = "X-Linked-Etag";
    }
  }
  return Status::Ok();
}

class OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    ssize_t put = ::write(fd, bytes.data(), bytes.size());
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) {
      return Status::IoError(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(put));
  }
  return Status::Ok();
}

// One download attempt into `partial`, resuming from its current size.
Status DownloadOnce(const std::string& url, const fs::path& partial, const HttpHeaders& headers,
                    const PullOptions& options, Expectation& expect, std::string_view file) {
  std::error_code ec;
  uint64_t have = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0;
  if (ec) have = 0;
  if (expect.size && have == *expect.size && have > 0) return Status::Ok();  // already complete
  if (expect.size && have > *expect.size) {
    fs::remove(partial, ec);  // longer than the file: not a prefix of it
    have = 0;
  }
  OpenFile out(::open(partial.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (out.get() < 0) {
    return Status::IoError(fmt::format("cannot open {}: {}", partial.string(), std::strerror(errno)));
  }
  HttpFetchRequest request{"GET", url, headers};
  if (have > 0) request.headers.emplace_back("Range", fmt::format("bytes={}-", have));
  uint64_t written = 0;
  bool range_unsatisfiable = false;

  auto on_head = [&](const HttpFetchResponse& head) -> Status {
    for (const HttpHop& hop : head.redirects) HEARTH_RETURN_IF_ERROR(Merge(expect, hop.headers, file));
    HEARTH_RETURN_IF_ERROR(Merge(expect, head.headers, file));
    uint64_t start = 0;
    if (head.status == 206 && have > 0) {
      // Content-Range: bytes START-END/TOTAL
      auto range = FindHeader(head.headers, "content-range").value_or("");
      size_t dash = range.find('-');
      size_t slash = range.find('/');
      std::optional<uint64_t> first, total;
      if (range.starts_with("bytes ") && dash != std::string::npos && slash != std::string::npos) {
        first = ParseUint(std::string_view(range).substr(6, dash - 6));
        total = ParseUint(std::string_view(range).substr(slash + 1));
      }
      if (!first || *first != have) {
        return Status::Unavailable(fmt::format(
            "GET {}: asked for bytes from {}, got Content-Range '{}'", url, have, range));
      }
      if (total) {
        if (expect.size && *expect.size != *total) {
          return Status::Corruption(fmt::format("{}: Content-Range total {} but {} says {}", file,
                                                *total, expect.size_from, *expect.size));
        }
        if (!expect.size) {
          expect.size = total;
          expect.size_from = "Content-Range";
        }
      }
      start = have;
    } else if (head.status == 200) {
      // A fresh download, or a server that ignored the Range: start over from byte 0.
      if (!expect.size && head.content_length) {
        expect.size = head.content_length;
        expect.size_from = "Content-Length";
      }
    } else if (head.status == 416 && have > 0) {
      range_unsatisfiable = true;
      return Status::Cancelled("range not satisfiable");
    } else {
      return HttpStatusError(fmt::format("GET {}", head.url.empty() ? url : head.url),
                             head.status, "");
    }
    if (::ftruncate(out.get(), static_cast<off_t>(start)) != 0 ||
        ::lseek(out.get(), static_cast<off_t>(start), SEEK_SET) < 0) {
      return Status::IoError(
          fmt::format("cannot truncate {}: {}", partial.string(), std::strerror(errno)));
    }
    have = start;
    if (options.progress) options.progress(have, expect.size);
    return Status::Ok();
  };
  auto sink = [&](std::string_view chunk) -> Status {
    if (expect.size && have + written + chunk.size() > *expect.size) {
      return Status::Corruption(fmt::format("{}: the server sent more than the {} bytes {} says",
                                            file, *expect.size, expect.size_from));
    }
    HEARTH_RETURN_IF_ERROR(WriteAll(out.get(), chunk, partial));
    written += chunk.size();
    if (options.progress) options.progress(have + written, expect.size);
    return Status::Ok();
  };
  auto fetched = HttpFetch(request, options.http, on_head, sink);
  // Whatever arrived stays on disk for the next attempt to resume from.
  int sync_rc = ::fsync(out.get());
  if (range_unsatisfiable) {
    // Our partial file does not fit the remote file (it changed, or we hold all of it). Start
    // over rather than guess.
    if (!(expect.size && have == *expect.size)) {
      fs::remove(partial, ec);
      return Status::Unavailable(
          fmt::format("GET {}: the server refused to resume (416); restarting", url));
    }
    return Status::Ok();
  }
  HEARTH_RETURN_IF_ERROR(fetched.status());
  if (sync_rc != 0) {
    return Status::IoError(fmt::format("cannot sync {}: {}", partial.string(), std::strerror(errno)));
  }
  return Status::Ok();
}

bool Transient(const Status& status) {
  return status.code() == StatusCode::kUnavailable ||
         status.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace

Result<PullSpec> ParsePullSpec(std::string_view text) {
  PullSpec spec;
  size_t colon = text.find(':');
  std::string_view repo = text.substr(0, colon);
  if (colon != std::string_view::npos) spec.file = std::string(text.substr(colon + 1));
  size_t slash = repo.find('/');
  bool repo_ok = slash != std::string_view::npos && IsRepoPart(repo.substr(0, slash)) &&
                 IsRepoPart(repo.substr(slash + 1));
  if (!repo_ok) {
    return Status::InvalidArgument(fmt::format(
        "'{}' is not ORG/REPO[:FILE] (ORG and REPO of A-Z, a-z, 0-9, '-', '_', '.')", text));
  }
  spec.repo = std::string(repo);
  if (colon != std::string_view::npos) {
    bool file_ok = !spec.file.empty() && spec.file.size() <= 512 && spec.file[0] != '/';
    size_t pos = 0;
    while (file_ok && pos <= spec.file.size()) {
      size_t next = spec.file.find('/', pos);
      if (next == std::string::npos) next = spec.file.size();
      std::string_view segment = std::string_view(spec.file).substr(pos, next - pos);
      file_ok = !segment.empty() && segment != "." && segment != "..";
      pos = next + 1;
    }
    file_ok = file_ok && std::all_of(spec.file.begin(), spec.file.end(), [](char c) {
                return static_cast<unsigned char>(c) > ' ' && c != 0x7f && c != '\\';
              });
    if (!file_ok) {
      return Status::InvalidArgument(fmt::format("'{}': bad file name '{}'", text, spec.file));
    }
  }
  return spec;
}

std::string ResolveEndpoint(std::string_view endpoint) {
  std::string out(endpoint);
  if (out.empty()) {
    const char* env = std::getenv("HF_ENDPOINT");
    out = env != nullptr && *env != '\0' ? env : std::string(kDefaultEndpoint);
  }
  while (out.ends_with('/')) out.pop_back();
  return out;
}

Result<ModelRecord> PullModel(ModelRegistry& registry, std::string_view spec_text,
                              const PullOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(PullSpec spec, ParsePullSpec(spec_text));
  std::string endpoint = ResolveEndpoint(options.endpoint);
  HEARTH_RETURN_IF_ERROR(ParseUrl(endpoint).status().WithContext("hub endpoint"));
  HttpHeaders headers;
  std::string token = options.token;
  if (token.empty()) {
    const char* env = std::getenv("HF_TOKEN");
    if (env != nullptr) token = env;
  }
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);

  HEARTH_ASSIGN_OR_RETURN(auto files, ListRepoFiles(endpoint, spec.repo, headers, options.http));
  HEARTH_ASSIGN_OR_RETURN(RemoteFile remote, PickFile(files, spec));
  std::string base_name = fs::path(remote.path).filename().string();
  std::string name =
      options.name.empty() ? ModelRegistry::NameFromFileName(base_name) : options.name;
  HEARTH_RETURN_IF_ERROR(ValidateModelName(name));
  // Refuse a taken name before downloading gigabytes.
  auto taken = registry.Show(name);
  if (taken.ok()) return Status::AlreadyExists(fmt::format("model '{}' already exists", taken->name));
  if (taken.status().code() != StatusCode::kNotFound) return taken.status();

  fs::path downloads = registry.models_dir().parent_path() / "downloads";
  std::error_code ec;
  fs::create_directories(downloads, ec);
  if (ec) {
    return Status::IoError(fmt::format("cannot create {}: {}", downloads.string(), ec.message()));
  }
  std::string flat = spec.repo + "/" + remote.path;
  std::replace(flat.begin(), flat.end(), '/', '-');
  // Keyed by the expected hash when known: a new revision never resumes into an old one's bytes.
  fs::path partial =
      downloads / fmt::format("{}{}.partial", flat,
                              remote.sha256.empty() ? "" : "." + remote.sha256.substr(0, 16));

  Expectation expect;
  expect.size = remote.size;
  expect.size_from = "the hub's file list";
  expect.sha256 = remote.sha256;
  expect.sha_from = "the hub's file list (lfs oid)";
  std::string url =
      fmt::format("{}/{}/resolve/main/{}", endpoint, spec.repo, EncodePath(remote.path));
  Status downloaded;
  for (int attempt = 1; attempt <= std::max(1, options.attempts); ++attempt) {
    downloaded = DownloadOnce(url, partial, headers, options, expect, remote.path);
    if (downloaded.ok() || !Transient(downloaded)) break;
  }
  if (!downloaded.ok()) {
    // A transient failure keeps the bytes for a later resume; anything else discards them.
    if (!Transient(downloaded)) fs::remove(partial, ec);
    return downloaded;
  }

  auto fail = [&](Status status) {
    fs::remove(partial, ec);
    return status;
  };
  uint64_t size = fs::file_size(partial, ec);
  if (ec) return fail(Status::IoError(fmt::format("cannot stat {}: {}", partial.string(), ec.message())));
  if (expect.size && size != *expect.size) {
    return fail(Status::Corruption(fmt::format(
        "{}: downloaded {} bytes but {} says {}; the partial download was deleted", remote.path,
        size, expect.size_from, *expect.size)));
  }
  auto sha = Sha256OfFile(partial);
  if (!sha.ok()) return fail(sha.status());
  if (!expect.sha256.empty() && *sha != expect.sha256) {
    return fail(Status::Corruption(fmt::format(
        "{}: SHA-256 of the download is {} but {} says {}; the partial download was deleted",
        remote.path, *sha, expect.sha_from, expect.sha256)));
  }

  ImportOptions import;
  import.name = name;
  import.source = fmt::format("hf:{}/{}@{}", spec.repo, remote.path, endpoint);
  import.move = true;
  import.file_name = base_name;
  import.sha256 = *sha;
  auto record = registry.Import(partial, import);
  if (!record.ok()) return fail(record.status());
  return record;
}

}  // namespace hearth::platform
