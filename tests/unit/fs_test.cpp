#include "supervise/fs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "supervise/files.hpp"

namespace supervise::fs {
namespace {

namespace stdfs = std::filesystem;

class Fs : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "supervise-fs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static mode_t mode_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0);
    return st.st_mode & 07777;
  }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(stdfs::directory_iterator(dir_), stdfs::directory_iterator()));
  }
  stdfs::path dir_;
};

TEST_F(Fs, WritesExactModeWhateverTheUmask) {
  mode_t old = ::umask(077);
  write_atomically(path("a"), "hello", 0644);
  write_atomically(path("b"), "x", 04755);
  ::umask(old);
  EXPECT_EQ(read(path("a")), "hello");
  EXPECT_EQ(mode_of(path("a")), 0644u);
  EXPECT_EQ(mode_of(path("b")), 04755u);
}

TEST_F(Fs, ReplacesAndLeavesNoTemporaryFile) {
  write_atomically(path("a"), "one", 0600);
  write_atomically(path("a"), "two", 0600);
  EXPECT_EQ(read(path("a")), "two");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(Fs, CreatesParentsWhenAsked) {
  write_atomically(path("x/y/z/file"), "deep", 0644, /*make_parents=*/true);
  EXPECT_EQ(read(path("x/y/z/file")), "deep");
  EXPECT_EQ(mode_of(path("x/y")) & 0700, 0700u);
  EXPECT_THROW(write_atomically(path("q/r"), "no parents", 0644), FileError);
}

TEST_F(Fs, ReplacesASymlinkInsteadOfWritingThroughIt) {
  write_atomically(path("target"), "keep me", 0644);
  stdfs::create_symlink(path("target"), path("link"));
  write_atomically(path("link"), "new", 0644);
  EXPECT_EQ(read(path("target")), "keep me");
  EXPECT_FALSE(stdfs::is_symlink(path("link")));
  EXPECT_EQ(read(path("link")), "new");
}

TEST_F(Fs, ErrorsNameTheOperationAndPath) {
  write_atomically(path("file"), "", 0644);
  try {
    write_atomically(path("file/child"), "x", 0644, true);
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    EXPECT_EQ(e.code().value(), ENOTDIR);
    EXPECT_NE(std::string(e.what()).find("cannot create directory " + path("file")), std::string::npos) << e.what();
  }
  stdfs::create_directory(path("dir"));
  try {
    write_atomically(path("dir"), "x", 0644);
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(path("dir")), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(), 2u);  // no temporary file left behind
}

TEST_F(Fs, DeclaredFilesInOrderWithContentsAndModes) {
  std::vector<spec::DeclaredFile> files = {{path("run/run.sh"), "#!/bin/sh\necho hi\n", 0755},
                                           {path("run/data.bin"), std::string("\0\1\2", 3), 0600}};
  files::write_declared(files);
  EXPECT_EQ(read(path("run/run.sh")), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(mode_of(path("run/run.sh")), 0755u);
  EXPECT_EQ(read(path("run/data.bin")), std::string("\0\1\2", 3));
  EXPECT_EQ(mode_of(path("run/data.bin")), 0600u);
}

TEST_F(Fs, DeclaredFileFailureStopsAtThatFile) {
  write_atomically(path("blocker"), "", 0644);
  std::vector<spec::DeclaredFile> files = {{path("ok1"), "a", 0644},
                                           {path("blocker/inside"), "b", 0644},
                                           {path("never"), "c", 0644}};
  EXPECT_THROW(files::write_declared(files), FileError);
  EXPECT_TRUE(stdfs::exists(path("ok1")));
  EXPECT_FALSE(stdfs::exists(path("never")));
}

}  // namespace
}  // namespace supervise::fs
