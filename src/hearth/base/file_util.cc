#include "hearth/base/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
  if (data_ != nullptr && size_ > 0) munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_), size_(other.size_), path_(std::move(other.path_)) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr && size_ > 0) munmap(const_cast<uint8_t*>(data_), size_);
    data_ = other.data_;
    size_ = other.size_;
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

Result<MappedFile> MappedFile::Open(const std::filesystem::path& path) {
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
  if (file.size_ > 0) {
    void* p = mmap(nullptr, file.size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      Status s = Status::IoError(fmt::format("cannot map {}: {}", path.string(), ErrnoText()));
      ::close(fd);
      file.size_ = 0;
      return s;
    }
    file.data_ = static_cast<const uint8_t*>(p);
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
  writer->temp_ = TempSibling(path.parent_path().empty() ? std::filesystem::path(".") / path : path);
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
  if (!ok) return Status::IoError(fmt::format("cannot write {}: {}", target_.string(), ErrnoText()));
  if (std::rename(temp_.c_str(), target_.c_str()) != 0) {
    return Status::IoError(
        fmt::format("cannot rename into {}: {}", target_.string(), ErrnoText()));
  }
  committed_ = true;
  return Status::Ok();
}

}  // namespace hearth
