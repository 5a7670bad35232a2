// The s3:// checkpoint store: files up to the multipart threshold go up with one
// PutObject streamed from disk, larger ones as a multipart upload (aborted on failure,
// so nothing dangles). Keys are "<prefix>/<key>".
#pragma once

#include <memory>

#include "supervise/checkpoint/store.hpp"
#include "supervise/s3/client.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::s3 {

class S3Store : public checkpoint::Store {
 public:
  S3Store(std::shared_ptr<Client> client, std::string bucket, std::string prefix);
  checkpoint::PutResult put_file(const std::string& key, const std::string& source) override;
  checkpoint::PutResult put_bytes(const std::string& key, std::string_view data) override;
  unsigned parallelism() const override { return 8; }

 private:
  std::string full_key(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "/" + key; }
  checkpoint::PutResult put_multipart(const std::string& key, checkpoint::SourceFile& in);

  std::shared_ptr<Client> client_;
  std::string bucket_;
  std::string prefix_;
};

// The store for an s3:// URL with the configuration of the environment; throws
// std::runtime_error saying what is missing (credentials, libcurl).
std::shared_ptr<checkpoint::Store> make_s3_store(const spec::StoreUrl& url);

}  // namespace supervise::s3
