// The file:// store: a local or mounted directory. Each file is written beside its
// place, fsynced and renamed, so a reader never sees half a file.
#pragma once

#include "supervise/checkpoint/store.hpp"

namespace supervise::checkpoint {

class FileStore : public Store {
 public:
  explicit FileStore(std::string dir) : dir_(std::move(dir)) {}
  PutResult put_file(const std::string& key, const std::string& source) override;
  PutResult put_bytes(const std::string& key, std::string_view data) override;
  unsigned parallelism() const override { return 4; }

 private:
  std::string dir_;
};

}  // namespace supervise::checkpoint
