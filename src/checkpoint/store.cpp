#include "supervise/checkpoint/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "supervise/azure/store.hpp"
#include "supervise/checkpoint/crc32c.hpp"
#include "supervise/checkpoint/file_store.hpp"
#include "supervise/s3/store.hpp"

namespace supervise::checkpoint {
namespace {

Stamp stamp_of(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::int64_t ctime_of(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
}

std::int64_t now_ns() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The kernel stamps mtime and ctime from a coarse clock (one tick: 1-10 ms): a write in
// the same tick as the last one leaves both as they were. A file last written less than
// this long ago may be written again, unseen, while it is read; so it must first stay
// unchanged for this long (then any later write gets a later stamp). Well above the
// longest tick, so that a writer paused mid-file by a busy machine is still caught, and
// far below a round.
constexpr std::int64_t kQuietNs = 100'000'000;
constexpr int kQuietTries = 3;  // then the file counts as changing: it goes again later

}  // namespace

std::shared_ptr<Store> make_store(const spec::StoreUrl& url) {
  switch (url.scheme) {
    case spec::StoreUrl::Scheme::kFile: return std::make_shared<FileStore>(url.dir);
    case spec::StoreUrl::Scheme::kAzure: return azure::make_azure_store(url);
    default: return s3::make_s3_store(url);  // s3://, gs://, tos://, swift://: the S3 protocol
  }
}

SourceFile::SourceFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: a file swapped for a fifo since the walk must not block the round in
  // open() (it changes nothing for a regular file).
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) {
    vanished_ = errno == ENOENT;
    error_ = "cannot open " + path + ": " + std::strerror(errno);
    return;
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    error_ = "cannot stat " + path + ": " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return;
  }
  if (!S_ISREG(st.st_mode)) {  // no longer the regular file that was seen: nothing to store
    vanished_ = true;
    error_ = path + " is no longer a regular file";
    ::close(fd_);
    fd_ = -1;
    return;
  }
  stamp_ = stamp_of(st);
  ctime_ns_ = ctime_of(st);
  // Not written in the last kQuietNs by our clock, or seen unchanged for that long (also
  // right when the file's clock is not ours: a network file system's server). Files
  // written together wait once: the first waits out the rest of the quiet time.
  for (int tries = 0;; ++tries) {
    std::int64_t age = now_ns() - std::max(stamp_.mtime_ns, ctime_ns_);
    if (age >= kQuietNs) break;
    if (tries == kQuietTries) {
      unsettled_ = true;
      break;
    }
    std::int64_t wait = age < 0 ? kQuietNs : kQuietNs - age;
    struct timespec pause = {0, static_cast<long>(wait)};
    ::nanosleep(&pause, nullptr);
    struct stat again {};
    if (::fstat(fd_, &again) != 0) {
      unsettled_ = true;
      break;
    }
    if (stamp_of(again) == stamp_ && ctime_of(again) == ctime_ns_) {
      if (wait == kQuietNs) break;  // watched unchanged for the whole quiet time
      continue;                     // aged past it (by our clock): checked above
    }
    stamp_ = stamp_of(again);
    ctime_ns_ = ctime_of(again);
  }
  remaining_ = stamp_.size;
  mode_ = st.st_mode & 0777;
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

SourceFile::~SourceFile() {
  if (fd_ >= 0) ::close(fd_);
}

long SourceFile::read(char* buffer, std::size_t size) {
  if (size > remaining_) size = static_cast<std::size_t>(remaining_);
  if (size == 0) return 0;
  for (;;) {
    ssize_t n = ::read(fd_, buffer, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = "cannot read " + path_ + ": " + std::strerror(errno);
      return -1;
    }
    crc_ = checkpoint::crc32c(crc_, buffer, static_cast<std::size_t>(n));
    remaining_ -= static_cast<std::uint64_t>(n);
    return static_cast<long>(n);
  }
}

bool SourceFile::read_at(char* buffer, std::size_t size, std::uint64_t offset, std::string& error) const {
  while (size > 0) {
    ssize_t n = ::pread(fd_, buffer, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "cannot read " + path_ + ": " + std::strerror(errno);
      return false;
    }
    if (n == 0) return false;  // it shrank
    buffer += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool SourceFile::changed() {
  struct stat st {};
  if (unsettled_ || ::fstat(fd_, &st) != 0) return true;
  return !(stamp_of(st) == stamp_) || ctime_of(st) != ctime_ns_;
}

}  // namespace supervise::checkpoint

namespace supervise::checkpoint {

bool SinkFile::rewind() {
  bytes_ = 0;
  crc_ = 0;
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) {
    error_ = std::string("cannot truncate: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool SinkFile::write_at(const char* data, std::size_t size, std::uint64_t offset, std::string& error) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd_, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string("cannot write: ") + std::strerror(errno);
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool SinkFile::write(const char* data, std::size_t size) {
  // The next bytes of the file (rewind() started it empty): where the last write ended.
  const std::uint64_t offset = bytes_;
  crc_ = checkpoint::crc32c(crc_, data, size);
  bytes_ += size;
  return write_at(data, size, offset, error_);
}

}  // namespace supervise::checkpoint
