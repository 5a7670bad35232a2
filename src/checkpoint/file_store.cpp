#include "supervise/checkpoint/file_store.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>
#include <filesystem>
#include <memory>

#include "supervise/fs.hpp"

namespace supervise::checkpoint {
namespace {

constexpr std::size_t kBufferSize = 1 << 20;
constexpr std::uint64_t kWriteBehind = 8 << 20;
constexpr std::uint64_t kMaxSmallObject = 1ull << 30;  // get_bytes: a manifest of millions of files

// Write-behind: every kWriteBehind bytes, start the disk on the window just written and
// wait for the one before it. The disk works while we copy, so the fsync at the end has
// at most two windows left to flush (a large file otherwise sits dirty in memory until
// that fsync, which then takes as long as the whole copy), and dirty pages stay bounded.
// Only hints: errors are ignored here because the final fsync reports them.
class WriteBehind {
 public:
  explicit WriteBehind(int fd) : fd_(fd) {}
  void wrote(std::uint64_t bytes) {
    written_ += bytes;
    if (written_ - started_ < kWriteBehind) return;
    hint(started_, written_ - started_, SYNC_FILE_RANGE_WRITE);
    if (started_ > 0)
      hint(waited_, started_ - waited_,
           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    waited_ = started_;
    started_ = written_;
  }

 private:
  void hint(std::uint64_t offset, std::uint64_t length, unsigned flags) const {
    [[maybe_unused]] int ignored = ::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(length), flags);
  }
  int fd_;
  std::uint64_t written_ = 0, started_ = 0, waited_ = 0;
};

// ENOSPC, EDQUOT, EROFS, EACCES and friends do not go away by trying again at once.
bool retryable(int err) {
  return err == EINTR || err == EAGAIN || err == EIO || err == EBUSY || err == ETIMEDOUT || err == ESTALE ||
         err == ENOTCONN;
}

// A store that answers with a definite error is up; EIO, a stale handle or a timeout
// (a network file system gone away) count against it for the down-store rule.
void report(const Control& control, int err, const std::string& error) {
  if (retryable(err) && err != EINTR && err != EAGAIN) control.failed(error);
  else control.answered();
}

// The error names the key even where the failure was on a parent directory
// ("cannot create directory /x: Not a directory" alone does not say which file).
std::string naming(const std::string& key, const std::string& target, const fs::FileError& e) {
  std::string what = e.what();
  return what.find(target) != std::string::npos ? what : key + ": " + what;
}

// Thrown out of the copy to give up before the rename: the temporary file goes.
struct ChangedWhileRead {};
struct Cancelled {};

}  // namespace

PutResult FileStore::put_file(const std::string& key, const std::string& source, const Control& control) {
  PutResult result;
  SourceFile in(source);
  if (!in.ok()) {
    result.vanished = in.vanished();
    result.error = in.error();
    return result;
  }
  result.stamp = in.stamp();
  std::string target = dir_ + "/" + key;
  try {
    fs::write_atomically_with(target, in.mode(), /*make_parents=*/true, [&](int fd) {
      std::unique_ptr<char[]> buffer(new char[kBufferSize]);
      WriteBehind behind(fd);
      for (;;) {
        if (control.cancelled()) throw Cancelled{};
        long n = in.read(buffer.get(), kBufferSize);
        if (n < 0) throw fs::FileError(EIO, in.error());
        if (n == 0) break;
        fs::write_all(fd, std::string_view(buffer.get(), static_cast<std::size_t>(n)), target);
        result.bytes += static_cast<std::uint64_t>(n);
        behind.wrote(static_cast<std::uint64_t>(n));
      }
      // Every byte is read: if the file moved meanwhile, the copy may mix two versions
      // and must not replace the one stored before.
      if (in.changed()) throw ChangedWhileRead{};
    });
  } catch (const ChangedWhileRead&) {
    result.ok = true;
    result.changed = true;
    result.bytes = 0;
    control.answered();
    return result;
  } catch (const Cancelled&) {
    result.error = key + ": " + control.give_up_reason();
    result.bytes = 0;
    return result;
  } catch (const fs::FileError& e) {
    result.error = naming(key, target, e);
    result.retryable = retryable(e.code().value());
    result.bytes = 0;
    report(control, e.code().value(), result.error);
    return result;
  }
  control.answered();
  control.add_moved(result.bytes);  // for progress lines: the file is in place, whole
  result.ok = true;
  result.crc32c = in.crc32c();
  return result;
}

PutResult FileStore::put_bytes(const std::string& key, std::string_view data, const Control& control) {
  PutResult result;
  std::string target = dir_ + "/" + key;
  try {
    fs::write_atomically(target, data, 0644, /*make_parents=*/true);
    result.ok = true;
    result.bytes = data.size();
    control.answered();
  } catch (const fs::FileError& e) {
    result.error = naming(key, target, e);
    result.retryable = retryable(e.code().value());
    report(control, e.code().value(), result.error);
  }
  return result;
}

GetResult FileStore::get_bytes(const std::string& key, const Control& control) {
  GetResult result;
  std::string path = dir_ + "/" + key;
  auto fail = [&](int err, const std::string& what) {
    result.state = GetResult::State::kFailed;
    result.error = what + " " + path + ": " + std::strerror(err);
    result.retryable = retryable(err);
    report(control, err, result.error);
    return result;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      control.answered();
      result.state = GetResult::State::kNotFound;
      return result;
    }
    return fail(errno, "cannot open");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return fail(err, "cannot stat");
  }
  if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > kMaxSmallObject) {
    ::close(fd);
    result.state = GetResult::State::kFailed;
    result.error = path + (S_ISREG(st.st_mode) ? " is too large to read" : " is not a regular file");
    return result;
  }
  result.data.resize(static_cast<std::size_t>(st.st_size));
  std::size_t filled = 0;
  while (filled < result.data.size()) {
    ssize_t n = ::read(fd, result.data.data() + filled, result.data.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(err, "cannot read");
    }
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  ::close(fd);
  result.data.resize(filled);
  result.state = GetResult::State::kFound;
  control.answered();
  return result;
}

GetResult FileStore::get_file(const std::string& key, SinkFile& sink, const Control& control) {
  GetResult result;
  std::string path = dir_ + "/" + key;
  auto fail = [&](int err, const std::string& what) {
    result.state = GetResult::State::kFailed;
    result.error = what + " " + path + ": " + std::strerror(err);
    result.retryable = retryable(err);
    report(control, err, result.error);
    return result;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      control.answered();
      result.state = GetResult::State::kNotFound;
      return result;
    }
    return fail(errno, "cannot open");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return fail(err, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    result.error = path + " is not a regular file";
    return result;
  }
  std::vector<char> buffer(1 << 20);
  if (!sink.rewind()) {
    ::close(fd);
    result.error = "restoring " + key + ": " + sink.error();
    return result;
  }
  for (;;) {
    if (control.cancelled()) {
      ::close(fd);
      result.error = path + ": " + control.give_up_reason();
      return result;
    }
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(err, "cannot read");
    }
    if (n == 0) break;
    if (!sink.write(buffer.data(), static_cast<std::size_t>(n))) {
      ::close(fd);
      result.error = "restoring " + key + ": " + sink.error();  // the local disk: not the store's
      return result;
    }
  }
  ::close(fd);
  result.state = GetResult::State::kFound;
  control.answered();
  control.add_moved(sink.bytes());  // for progress lines: the whole object was read
  return result;
}

bool FileStore::clean_leftovers(const std::string& root, const std::function<bool(const std::string&)>& keep,
                                const Control& control) {
  namespace sfs = std::filesystem;
  std::size_t removed = 0;
  auto remove = [&](const sfs::path& path, const std::string& key) {
    if (keep(key)) return;
    std::error_code ec;
    if (sfs::remove(path, ec)) {
      ++removed;
      spdlog::debug("removed {}, left by an earlier run", path.string());
    } else if (ec) {
      spdlog::warn("cannot remove {}, left by an earlier run: {}", path.string(), ec.message());
    }
  };
  // Beside the entry's root: the temporaries of a single-file entry and of the manifest.
  const std::string prefixes[] = {fs::temporary_prefix(root), fs::temporary_prefix(root + ".manifest.json")};
  std::error_code ec;
  for (sfs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!fs::is_temporary_name(name)) continue;
    for (const auto& p : prefixes)
      if (name.compare(0, p.size(), p) == 0 && name.size() == p.size() + 6) remove(it->path(), name);
  }
  // Below it (never following a link out): every temporary file.
  sfs::path top = sfs::path(dir_) / root;
  if (sfs::is_directory(sfs::symlink_status(top, ec))) {
    for (sfs::recursive_directory_iterator it(top, sfs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
      if (control.give_up()) return false;
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      std::string name = it->path().filename().string();
      if (fs::is_temporary_name(name)) remove(it->path(), root + "/" + it->path().lexically_relative(top).string());
    }
  }
  if (removed > 0)
    spdlog::info("removed {} temporary {} left in {} by an earlier run", removed, removed == 1 ? "file" : "files",
                 dir_);
  return true;
}

}  // namespace supervise::checkpoint
