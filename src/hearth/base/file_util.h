// Files: read-only memory maps, whole-file reads, and atomic writes.
//
// Writes that must never leave a half-written file behind (configs, models, registry records)
// go through AtomicWriteFile / AtomicFileWriter: data lands in a temporary file in the same
// directory, is fsync'd, and is renamed over the target only when complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "hearth/base/status.h"

namespace hearth {

// How MappedFile::Open makes a file's bytes addressable.
enum class MapMode {
  // A shared, read-only map of the page cache: nothing is read up front and processes mapping
  // the same file share its memory.
  kShared,
  // The file read into private anonymous memory backed by transparent huge pages where the
  // kernel grants them (then made read-only). Streaming hundreds of MB per decode step through
  // 4 KiB pages costs a TLB miss every 4 KiB; 2 MiB pages remove nearly all of them. Costs the
  // read at open and a private copy per process. Falls back to 4 KiB pages silently.
  kPrivateHugePages,
};

// Private anonymous read-write memory of HugePageRoundUp(bytes) bytes starting on a 2 MiB
// boundary and advised for transparent huge pages (the kernel may still use 4 KiB pages);
// nullptr when the mapping fails. Release with munmap(p, HugePageRoundUp(bytes)).
inline constexpr size_t kHugePageBytes = size_t{2} << 20;
size_t HugePageRoundUp(size_t bytes);
uint8_t* MapHugePageMemory(size_t bytes);

// A read-only memory map of a whole file. Movable, not copyable; unmaps on destruction.
class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  static Result<MappedFile> Open(const std::filesystem::path& path,
                                 MapMode mode = MapMode::kShared);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_bytes_ = 0;  // what munmap releases (size_ rounded up for huge pages)
  std::filesystem::path path_;
};

Result<std::string> ReadFileToString(const std::filesystem::path& path);

// Writes `contents` to `path` atomically (temp file + fsync + rename).
Status AtomicWriteFile(const std::filesystem::path& path, std::string_view contents);

// Streams a large file to a temporary sibling and renames it into place on Commit(). If the
// writer is destroyed without Commit() (error, exception, signal), the temporary is removed and
// the target is untouched.
class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  static Result<std::unique_ptr<AtomicFileWriter>> Create(const std::filesystem::path& path);

  Status Write(const void* data, size_t size);
  Status Write(std::string_view s) { return Write(s.data(), s.size()); }
  Status WriteZeros(size_t size);
  uint64_t bytes_written() const { return written_; }
  Status Commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  std::FILE* file_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace hearth
