#include "supervise/fs.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace supervise::fs {
namespace {

// Closes the fd and removes the temporary file unless release()d.
class TempFile {
 public:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // close() reports write-back errors on some filesystems; it must be checked.
  int close() {
    int r = ::close(fd_);
    fd_ = -1;
    return r;
  }
  void release() { path_.clear(); }

 private:
  int fd_;
  std::string path_;
};

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the rename is done; a directory we cannot open cannot be synced
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string temporary_prefix(const std::string& filename) {
  // "." + name + ".tmp-" + 6 characters must fit NAME_MAX (255): a name of 244 bytes or
  // more is cut (the temporary file is only ever found by its directory walk or pattern).
  constexpr std::size_t kRoom = 255 - 1 - 5 - 6;
  return "." + filename.substr(0, kRoom) + ".tmp-";
}

bool is_temporary_name(std::string_view name) {
  // ".<at least one byte>.tmp-" and the 6 characters mkostemp puts in place of XXXXXX.
  constexpr std::size_t kSuffix = 5 + 6;
  if (name.size() < 2 + kSuffix || name.front() != '.') return false;
  std::string_view tail = name.substr(name.size() - kSuffix);
  if (tail.substr(0, 5) != ".tmp-") return false;
  for (char c : tail.substr(5))
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError(errno, "cannot write " + path);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

FileError::FileError(int err, const std::string& what_and_path)
    : std::system_error(err, std::generic_category(), what_and_path), context_(what_and_path) {}

void create_parents(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::string partial;
  for (const auto& part : parent) {
    if (part == "/") {
      partial = "/";
      continue;
    }
    partial = (std::filesystem::path(partial) / part).string();
    if (::mkdir(partial.c_str(), 0755) == 0) continue;
    int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(partial.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    if (err == EEXIST) err = ENOTDIR;
    throw FileError(err, "cannot create directory " + partial);
  }
}

void write_atomically(const std::string& path, std::string_view data, mode_t mode, bool make_parents,
                      InPlace in_place) {
  try {
    write_atomically_with(path, mode, make_parents, [&](int fd) { write_all(fd, data, path); });
  } catch (const FileError& e) {
    int err = e.code().value();
    if (in_place != InPlace::kIfBindMounted || (err != EBUSY && err != EXDEV) ||
        e.context() != "cannot replace " + path)
      throw;
    write_in_place(path, data, mode);
  }
}

void write_in_place(const std::string& path, std::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw FileError(errno, "cannot open " + path);
  TempFile file(fd, "");  // closes it on a throw; nothing to remove
  write_all(file.fd(), data, path);
  // A character device (/dev/termination-log on some runtimes) cannot be synced.
  if (::fsync(file.fd()) != 0 && errno != EINVAL && errno != EROFS) throw FileError(errno, "cannot sync " + path);
  if (file.close() != 0) throw FileError(errno, "cannot write " + path);
}

void write_atomically_with(const std::string& path, mode_t mode, bool make_parents,
                           const std::function<void(int fd)>& fill) {
  if (make_parents) create_parents(path);
  std::filesystem::path target(path);
  std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  std::string tmpl = (std::filesystem::path(dir) / (temporary_prefix(target.filename().string()) + "XXXXXX")).string();
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) throw FileError(errno, "cannot create a temporary file beside " + path);
  TempFile tmp(fd, tmpl);
  fill(tmp.fd());
  if (::fchmod(tmp.fd(), mode) != 0) throw FileError(errno, "cannot set the mode of " + path);
  if (::fsync(tmp.fd()) != 0) throw FileError(errno, "cannot sync " + path);
  if (tmp.close() != 0) throw FileError(errno, "cannot write " + path);
  // rename() replaces a symbolic link at `path` itself, never its target.
  if (::rename(tmp.path().c_str(), path.c_str()) != 0) throw FileError(errno, "cannot replace " + path);
  tmp.release();
  fsync_directory(dir);
}

}  // namespace supervise::fs
