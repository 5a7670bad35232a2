// The store interface: where checkpoint files go. One implementation per URL scheme
// (file://, s3://). A store is called from several worker threads at once and never
// throws: every outcome, failures included, comes back as a PutResult.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "supervise/checkpoint/snapshot.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::checkpoint {

struct PutResult {
  bool ok = false;
  bool retryable = false;  // a transient failure (worth another attempt)
  std::string error;       // why it failed, naming the key or path; never a secret
  // For put_file: the version that was read, and whether it changed while being read
  // (then it was not stored as that version and must be stored again).
  Stamp stamp;
  bool changed = false;
  bool vanished = false;  // the local file was gone: nothing to store, not a failure
  std::uint32_t crc32c = 0;
  std::uint64_t bytes = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Stores the local file `source` under `key` (relative to the URL).
  virtual PutResult put_file(const std::string& key, const std::string& source) = 0;
  // Stores bytes under `key` (the manifest).
  virtual PutResult put_bytes(const std::string& key, std::string_view data) = 0;
  // How many put_file calls pay off at once.
  virtual unsigned parallelism() const = 0;
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
  // After the last read: did size or mtime move since open()?
  bool changed();

 private:
  int fd_ = -1;
  std::string path_;
  std::string error_;
  Stamp stamp_;
  std::uint64_t remaining_ = 0;
  mode_t mode_ = 0644;
  bool vanished_ = false;
  std::uint32_t crc_ = 0;
};

}  // namespace supervise::checkpoint
