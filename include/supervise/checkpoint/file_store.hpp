// The file:// store: a local or mounted directory. Each file is written beside its
// place, fsynced and renamed, so a reader never sees half a file; a file that changed
// while it was copied is never renamed into place.
#pragma once

#include "supervise/checkpoint/store.hpp"

namespace supervise::checkpoint {

class FileStore : public Store {
 public:
  explicit FileStore(std::string dir) : dir_(std::move(dir)) {}
  PutResult put_file(const std::string& key, const std::string& source, const Control& control) override;
  PutResult put_bytes(const std::string& key, std::string_view data, const Control& control) override;
  GetResult get_bytes(const std::string& key, const Control& control) override;
  GetResult get_file(const std::string& key, SinkFile& sink, const Control& control) override;
  bool clean_leftovers(const std::string& root, const std::function<bool(const std::string&)>& keep,
                        const Control& control) override;
  unsigned parallelism() const override { return 4; }

 private:
  std::string dir_;
};

}  // namespace supervise::checkpoint
