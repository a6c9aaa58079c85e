#include "hearth/base/file_util.h"

#include <gtest/gtest.h>

#include <cstring>

#include "hearth/base/data_dir.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

size_t CountEntries(const std::filesystem::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(FileUtilTest, AtomicWriteReplacesWholeFile) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir / "a.txt", "first version, long").ok());
  ASSERT_TRUE(AtomicWriteFile(dir / "a.txt", "second").ok());
  EXPECT_EQ(*ReadFileToString(dir / "a.txt"), "second");
  EXPECT_EQ(CountEntries(dir.path()), 1u);  // no temporaries left behind
}

TEST(FileUtilTest, AbandonedWriterLeavesTargetUntouched) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir / "model.bin", "original").ok());
  {
    auto writer = AtomicFileWriter::Create(dir / "model.bin");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("partial data").ok());
    ASSERT_TRUE((*writer)->WriteZeros(10000).ok());
    EXPECT_EQ((*writer)->bytes_written(), 12u + 10000u);
    // Destroyed without Commit(): simulates an error half way.
  }
  EXPECT_EQ(*ReadFileToString(dir / "model.bin"), "original");
  EXPECT_EQ(CountEntries(dir.path()), 1u);
}

TEST(FileUtilTest, WriterIntoMissingDirectoryFailsClearly) {
  testing::TempDir dir;
  auto writer = AtomicFileWriter::Create(dir / "no" / "such" / "x");
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), StatusCode::kIoError);
}

TEST(FileUtilTest, MappedFileSeesContents) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir / "m", "hello mapping").ok());
  auto m = MappedFile::Open(dir / "m");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), "hello mapping");
  MappedFile moved = std::move(*m);
  EXPECT_EQ(moved.size(), 13u);
  EXPECT_FALSE(MappedFile::Open(dir / "absent").ok());
  EXPECT_EQ(MappedFile::Open(dir.path()).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(AtomicWriteFile(dir / "empty", "").ok());
  auto empty = MappedFile::Open(dir / "empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
}

TEST(FileUtilTest, HugePageReadHoldsTheSameBytesAsTheMap) {
  testing::TempDir dir;
  // Larger than one 2 MiB page and not a multiple of it, with position-dependent bytes so that a
  // misplaced chunk would show.
  std::string contents(5 * 1024 * 1024 + 123, '\0');
  for (size_t i = 0; i < contents.size(); ++i) {
    contents[i] = static_cast<char>((i * 131 + i / 4096) & 0xFF);
  }
  ASSERT_TRUE(AtomicWriteFile(dir / "w", contents).ok());
  auto shared = MappedFile::Open(dir / "w", MapMode::kShared);
  auto huge = MappedFile::Open(dir / "w", MapMode::kPrivateHugePages);
  ASSERT_TRUE(shared.ok());
  ASSERT_TRUE(huge.ok()) << huge.status().message();
  ASSERT_EQ(huge->size(), contents.size());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(huge->data()) % (2 << 20), 0u);  // huge-page aligned
  EXPECT_EQ(std::memcmp(huge->data(), contents.data(), contents.size()), 0);
  EXPECT_EQ(std::memcmp(huge->data(), shared->data(), contents.size()), 0);
  MappedFile moved = std::move(*huge);  // the moved-to object owns (and later frees) the copy
  EXPECT_EQ(moved.size(), contents.size());
  EXPECT_EQ(std::memcmp(moved.data(), contents.data(), contents.size()), 0);

  auto empty_file = AtomicWriteFile(dir / "e", "");
  ASSERT_TRUE(empty_file.ok());
  auto empty = MappedFile::Open(dir / "e", MapMode::kPrivateHugePages);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_EQ(MappedFile::Open(dir / "absent", MapMode::kPrivateHugePages).status().code(),
            StatusCode::kIoError);
}

TEST(DataDirTest, CreatesNestedDirectoryAndLeavesNoProbe) {
  testing::TempDir dir;
  auto data = dir / "a" / "b";
  ASSERT_TRUE(EnsureDataDir(data).ok());
  EXPECT_TRUE(std::filesystem::is_directory(data));
  EXPECT_EQ(CountEntries(data), 0u);
}

TEST(DataDirTest, RefusesAFileOrAnUncreatablePath) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir / "file", "x").ok());
  Status s = EnsureDataDir(dir / "file");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a directory"), std::string::npos) << s.message();
  s = EnsureDataDir(dir / "file" / "sub");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot create data directory"), std::string::npos) << s.message();
  // /proc is not writable even for root.
  s = EnsureDataDir("/proc/hearth-data");
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace hearth
