#include "config/file_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace vallum::config {
namespace {

std::string writeFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "vallum_file_reader_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(FileReaderTest, ReadsAFileUpToTheLimit) {
  std::string path = writeFile("small", "routes: []\n");
  auto text = readLimitedFile(path, 11);
  ASSERT_TRUE(text) << text.error().detail();
  EXPECT_EQ(*text, "routes: []\n");
}

TEST(FileReaderTest, RefusesARegularFileOverTheLimitFromItsSize) {
  // A sparse 50 MiB file: refused from its size, so nothing is read.
  std::string path = ::testing::TempDir() + "vallum_file_reader_sparse";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 50 << 20), 0);
  ::close(fd);
  auto text = readLimitedFile(path, size_t{16} << 20);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code(), Errc::ResourceExhausted);
  EXPECT_EQ(text.error().detail(), "file \"" + path + "\" is 50 MiB, over the limit of 16 MiB");
}

TEST(FileReaderTest, CutsOffAFileWithoutASize) {
  // /dev/zero has no size and no end.
  auto text = readLimitedFile("/dev/zero", 1 << 20);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().detail(), "file \"/dev/zero\" is over the limit of 1 MiB");
}

TEST(FileReaderTest, MissingFileIsNotFound) {
  auto text = readLimitedFile("/nonexistent/vallum.yaml", 1024);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code(), Errc::NotFound);
  EXPECT_EQ(text.error().detail(),
            "cannot read \"/nonexistent/vallum.yaml\": No such file or directory");
}

TEST(FileReaderTest, FormatsSizes) {
  EXPECT_EQ(formatByteSize(100), "100 bytes");
  EXPECT_EQ(formatByteSize(1536), "1536 bytes");
  EXPECT_EQ(formatByteSize(512 << 10), "512 KiB");
  EXPECT_EQ(formatByteSize(16 << 20), "16 MiB");
  EXPECT_EQ(formatByteSize((50 << 20) + (300 << 10)), "50.3 MiB");
}

}  // namespace
}  // namespace vallum::config
