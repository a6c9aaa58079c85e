#include "hearth/base/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <random>

namespace hearth {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

std::filesystem::path TempSibling(const std::filesystem::path& path) {
  std::random_device rd;
  return path.parent_path() /
         fmt::format(".{}.tmp-{:08x}", path.filename().string(), static_cast<uint32_t>(rd()));
}

}  // namespace

MappedFile::~MappedFile() {
  if (data_ != nullptr && mapped_bytes_ > 0) munmap(const_cast<uint8_t*>(data_), mapped_bytes_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_),
      size_(other.size_),
      mapped_bytes_(other.mapped_bytes_),
      path_(std::move(other.path_)) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.mapped_bytes_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr && mapped_bytes_ > 0) {
      munmap(const_cast<uint8_t*>(data_), mapped_bytes_);
    }
    data_ = other.data_;
    size_ = other.size_;
    mapped_bytes_ = other.mapped_bytes_;
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_ = 0;
    other.mapped_bytes_ = 0;
  }
  return *this;
}

size_t HugePageRoundUp(size_t bytes) {
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}

uint8_t* MapHugePageMemory(size_t bytes) {
  bytes = HugePageRoundUp(bytes);
  void* raw = mmap(nullptr, bytes + kHugePageBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  // Give back the unaligned head and the tail beyond `bytes`.
  if (aligned > start) munmap(raw, aligned - start);
  const size_t tail = start + bytes + kHugePageBytes - (aligned + bytes);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  // Advice only: without transparent huge pages the memory still works on 4 KiB pages.
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
  return reinterpret_cast<uint8_t*>(aligned);
}

namespace {

// Reads the whole of fd into private huge-page-backed memory, read-only afterwards.
Status ReadIntoHugePages(int fd, const std::filesystem::path& path, size_t size,
                         const uint8_t** data, size_t* mapped_bytes) {
  const size_t bytes = HugePageRoundUp(size);
  uint8_t* memory = MapHugePageMemory(bytes);
  if (memory == nullptr) {
    return Status::ResourceExhausted(
        fmt::format("cannot allocate {} bytes for {}: {}", bytes, path.string(), ErrnoText()));
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, memory + done, std::min<size_t>(size - done, size_t{64} << 20),
                              static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s =
          n < 0 ? Status::IoError(fmt::format("cannot read {}: {}", path.string(), ErrnoText()))
                : Status::IoError(fmt::format("{} shrank while being read ({} of {} bytes)",
                                              path.string(), done, size));
      munmap(memory, bytes);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  mprotect(memory, bytes, PROT_READ);
  *data = memory;
  *mapped_bytes = bytes;
  return Status::Ok();
}

}  // namespace

Result<MappedFile> MappedFile::Open(const std::filesystem::path& path, MapMode mode) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(fmt::format("cannot open {}: {}", path.string(), ErrnoText()));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    Status s = Status::IoError(fmt::format("cannot stat {}: {}", path.string(), ErrnoText()));
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(fmt::format("{} is not a regular file", path.string()));
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<size_t>(st.st_size);
  if (file.size_ > 0 && mode == MapMode::kPrivateHugePages) {
    Status read = ReadIntoHugePages(fd, path, file.size_, &file.data_, &file.mapped_bytes_);
    ::close(fd);
    if (!read.ok()) {
      file.size_ = 0;
      return read;
    }
    return file;
  }
  if (file.size_ > 0) {
    void* p = mmap(nullptr, file.size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      Status s = Status::IoError(fmt::format("cannot map {}: {}", path.string(), ErrnoText()));
      ::close(fd);
      file.size_ = 0;
      return s;
    }
    file.data_ = static_cast<const uint8_t*>(p);
    file.mapped_bytes_ = file.size_;
  }
  ::close(fd);
  return file;
}

Result<std::string> ReadFileToString(const std::filesystem::path& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return Status::IoError(fmt::format("cannot open {}: {}", path.string(), ErrnoText()));
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) out.append(buf, n);
  if (std::ferror(f.get())) {
    return Status::IoError(fmt::format("cannot read {}: {}", path.string(), ErrnoText()));
  }
  return out;
}

Status AtomicWriteFile(const std::filesystem::path& path, std::string_view contents) {
  HEARTH_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::Create(path));
  HEARTH_RETURN_IF_ERROR(writer->Write(contents));
  return writer->Commit();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_ && !temp_.empty()) {
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

Result<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(
    const std::filesystem::path& path) {
  auto writer = std::make_unique<AtomicFileWriter>();
  writer->target_ = path;
  writer->temp_ =
      TempSibling(path.parent_path().empty() ? std::filesystem::path(".") / path : path);
  writer->file_ = std::fopen(writer->temp_.c_str(), "wbx");
  if (writer->file_ == nullptr) {
    Status s = Status::IoError(
        fmt::format("cannot create {}: {}", writer->temp_.parent_path().string(), ErrnoText()));
    writer->temp_.clear();
    return s;
  }
  return writer;
}

Status AtomicFileWriter::Write(const void* data, size_t size) {
  if (file_ == nullptr) return Status::FailedPrecondition("write after commit");
  if (size > 0 && std::fwrite(data, 1, size, file_) != size) {
    return Status::IoError(fmt::format("cannot write {}: {}", target_.string(), ErrnoText()));
  }
  written_ += size;
  return Status::Ok();
}

Status AtomicFileWriter::WriteZeros(size_t size) {
  static const char kZeros[4096] = {};
  while (size > 0) {
    size_t n = std::min(size, sizeof(kZeros));
    HEARTH_RETURN_IF_ERROR(Write(kZeros, n));
    size -= n;
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (file_ == nullptr) return Status::FailedPrecondition("commit twice");
  bool ok = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
  ok = (std::fclose(file_) == 0) && ok;
  file_ = nullptr;
  if (!ok)
    return Status::IoError(fmt::format("cannot write {}: {}", target_.string(), ErrnoText()));
  if (std::rename(temp_.c_str(), target_.c_str()) != 0) {
    return Status::IoError(fmt::format("cannot rename into {}: {}", target_.string(), ErrnoText()));
  }
  committed_ = true;
  return Status::Ok();
}

}  // namespace hearth
