// The store interface: where checkpoint files go. One implementation per URL scheme
// (file://, s3://). A store is called from several worker threads at once and never
// throws: every outcome, failures included, comes back as a result. It never commits a
// torn copy: a file that changed while it was read leaves the stored version as it was.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "supervise/checkpoint/control.hpp"
#include "supervise/checkpoint/snapshot.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::checkpoint {

struct PutResult {
  bool ok = false;
  bool retryable = false;  // a transient failure (worth another attempt)
  std::string error;       // why it failed, naming the key or path; never a secret
  // For put_file: the version that was read, and whether it changed while being read
  // (then nothing was committed: the store keeps the version it had, and the file must
  // be stored again).
  Stamp stamp;
  bool changed = false;
  bool vanished = false;  // the local file was gone: nothing to store, not a failure
  // After a failure: the store certainly still holds what it held at the key before (a
  // failure that may have happened after the object was committed says false).
  bool previous_kept = true;
  std::uint32_t crc32c = 0;
  std::uint64_t bytes = 0;
};

struct GetResult {
  enum class State { kFound, kNotFound, kFailed };
  State state = State::kFailed;
  std::string data;        // kFound by get_bytes: the object's bytes
  bool retryable = false;  // kFailed: a transient failure
  std::string error;       // kFailed: why, naming the key
};

// Where get_file writes an object: a file the caller opened (and closes), from its
// start; a retry starts it over. Counts and checksums what is written.
class SinkFile {
 public:
  explicit SinkFile(int fd) : fd_(fd) {}
  // Back to an empty file (before each attempt).
  bool rewind();
  bool write(const char* data, std::size_t size);
  std::uint64_t bytes() const { return bytes_; }
  std::uint32_t crc32c() const { return crc_; }
  const std::string& error() const { return error_; }  // after a false rewind() or write()
  // The size the manifest gives (0: not known): a store may then read a large object in
  // ranges, in parallel, each written at its offset.
  void expect(std::uint64_t size) { expected_ = size; }
  std::uint64_t expected() const { return expected_; }
  // A range at its offset (pwrite: any thread; the running CRC is not touched) ...
  bool write_at(const char* data, std::size_t size, std::uint64_t offset, std::string& error);
  // ... and, once all are written, what the whole file is.
  void set_whole(std::uint64_t bytes, std::uint32_t crc) {
    bytes_ = bytes;
    crc_ = crc;
  }

 private:
  int fd_;
  std::uint64_t expected_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint32_t crc_ = 0;
  std::string error_;
};

// A multipart upload the store started and has not completed or aborted (yet).
struct OpenUpload {
  std::string object;     // "s3://bucket/prefix/ck/big.bin"
  std::string upload_id;
};

class Store {
 public:
  explicit Store(Clock::duration down_window = kDownWindow) : health_(down_window) {}
  virtual ~Store() = default;
  // Stores the local file `source` under `key` (relative to the URL). Nothing is
  // committed unless it is one whole version of the file.
  virtual PutResult put_file(const std::string& key, const std::string& source, const Control& control) = 0;
  // Stores bytes under `key` (the manifest).
  virtual PutResult put_bytes(const std::string& key, std::string_view data, const Control& control) = 0;
  // Reads a small object (the manifest).
  virtual GetResult get_bytes(const std::string& key, const Control& control) = 0;
  // Reads the object at `key` into `sink` (a restore). kFound: `sink` holds it whole.
  virtual GetResult get_file(const std::string& key, SinkFile& sink, const Control& control) = 0;
  // Removes what a killed run left behind for the keys under `root` (the key `root` and
  // those below `root/`): file:// temporaries, S3 multipart uploads. `keep` spares a
  // key that merely looks like a leftover (a user's file so named). False when the look
  // could not be completed (the store did not answer): the next round tries again.
  // What is removed, or cannot be, is logged; never fatal.
  virtual bool clean_leftovers(const std::string& root, const std::function<bool(const std::string&)>& keep,
                                      const Control& control) = 0;
  // Tries again to abort the uploads an earlier abort could not (the store was down).
  virtual void retry_aborts(const Control& /*control*/) {}
  // Uploads started and not completed or aborted, at this moment.
  virtual std::vector<OpenUpload> open_uploads() const { return {}; }
  // Why `key` can never be a key of this store (S3 keys are UTF-8), or "".
  virtual std::string key_problem(const std::string& /*key*/) const { return ""; }
  // How many put_file calls pay off at once.
  virtual unsigned parallelism() const = 0;
  // The down-store rule's state, kept across rounds.
  StoreHealth& health() { return health_; }

 private:
  StoreHealth health_;
};

// The store for a URL. Throws std::runtime_error when the scheme has no store in this
// build or its configuration is incomplete (checked at start-up, not at the first upload).
std::shared_ptr<Store> make_store(const spec::StoreUrl& url);

// Reads a local file for a store: opens it, reports its stamp, checksums what is read,
// and tells at the end whether the file changed while it was read.
class SourceFile {
 public:
  explicit SourceFile(const std::string& path);  // check ok() / error()
  ~SourceFile();
  SourceFile(const SourceFile&) = delete;
  SourceFile& operator=(const SourceFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  bool vanished() const { return vanished_; }  // it was gone when we came to read it
  mode_t mode() const { return mode_; }
  const std::string& error() const { return error_; }
  const Stamp& stamp() const { return stamp_; }
  // Reads up to `size` bytes, never past the size seen at open (a growing file is
  // caught by changed()); 0 at the end, -1 on error (see error()).
  long read(char* buffer, std::size_t size);
  std::uint32_t crc32c() const { return crc_; }
  // Fills `size` bytes from `offset` (pread: any thread, any order; read()'s checksum is
  // not touched): true, or false at a short file (see error(): empty if it shrank).
  bool read_at(char* buffer, std::size_t size, std::uint64_t offset, std::string& error) const;
  // After the last read: did the file change since open()? Size, modification time
  // and status-change time are compared: a writer that puts the old mtime back (rsync,
  // tar) still moves the ctime. A file written in the last 100 ms is first watched until
  // it stays unchanged that long (timestamps come from a coarse clock: a second write in
  // the same tick would not move them); one still being written counts as changed.
  bool changed();

 private:
  int fd_ = -1;
  std::string path_;
  std::string error_;
  Stamp stamp_;
  std::int64_t ctime_ns_ = 0;
  std::uint64_t remaining_ = 0;
  mode_t mode_ = 0644;
  bool vanished_ = false;
  bool unsettled_ = false;  // still being written when opened: counts as changed
  std::uint32_t crc_ = 0;
};

}  // namespace supervise::checkpoint
