#include "supervise/checkpoint/file_store.hpp"

#include <fcntl.h>

#include <cerrno>
#include <memory>

#include "supervise/fs.hpp"

namespace supervise::checkpoint {
namespace {

constexpr std::size_t kBufferSize = 1 << 20;
constexpr std::uint64_t kWriteBehind = 8 << 20;

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
bool retryable(int err) { return err == EINTR || err == EAGAIN || err == EIO || err == EBUSY || err == ETIMEDOUT; }

// The error names the key even where the failure was on a parent directory
// ("cannot create directory /x: Not a directory" alone does not say which file).
std::string naming(const std::string& key, const std::string& target, const fs::FileError& e) {
  std::string what = e.what();
  return what.find(target) != std::string::npos ? what : key + ": " + what;
}

}  // namespace

PutResult FileStore::put_file(const std::string& key, const std::string& source) {
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
        long n = in.read(buffer.get(), kBufferSize);
        if (n < 0) throw fs::FileError(EIO, in.error());
        if (n == 0) break;
        fs::write_all(fd, std::string_view(buffer.get(), static_cast<std::size_t>(n)), target);
        result.bytes += static_cast<std::uint64_t>(n);
        behind.wrote(static_cast<std::uint64_t>(n));
      }
    });
  } catch (const fs::FileError& e) {
    result.error = naming(key, target, e);
    result.retryable = retryable(e.code().value());
    return result;
  }
  result.ok = true;
  result.crc32c = in.crc32c();
  result.changed = in.changed();
  return result;
}

PutResult FileStore::put_bytes(const std::string& key, std::string_view data) {
  PutResult result;
  std::string target = dir_ + "/" + key;
  try {
    fs::write_atomically(target, data, 0644, /*make_parents=*/true);
    result.ok = true;
    result.bytes = data.size();
  } catch (const fs::FileError& e) {
    result.error = naming(key, target, e);
    result.retryable = retryable(e.code().value());
  }
  return result;
}

}  // namespace supervise::checkpoint
