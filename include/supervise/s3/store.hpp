// The s3:// checkpoint store: files up to a part go up with one PutObject from memory,
// files up to the multipart threshold with one PutObject streamed from disk, larger
// ones as a multipart upload whose parts go in parallel through the store's transfer
// pool; each body carries its CRC-32C for the server to verify. Nothing torn is ever
// committed (a file that changed while read aborts the PUT before its last byte, or the
// upload before its CompleteMultipartUpload), and nothing dangles (every upload not
// completed is aborted, and one that cannot be is tried again and reported). Keys are
// "<prefix>/<key>".
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "supervise/checkpoint/store.hpp"
#include "supervise/checkpoint/transfer_pool.hpp"
#include "supervise/s3/client.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::s3 {

class S3Store : public checkpoint::Store {
 public:
  S3Store(std::shared_ptr<Client> client, std::string bucket, std::string prefix);
  checkpoint::PutResult put_file(const std::string& key, const std::string& source,
                                 const checkpoint::Control& control) override;
  checkpoint::PutResult put_bytes(const std::string& key, std::string_view data,
                                  const checkpoint::Control& control) override;
  checkpoint::GetResult get_bytes(const std::string& key, const checkpoint::Control& control) override;
  checkpoint::GetResult get_file(const std::string& key, checkpoint::SinkFile& sink,
                                 const checkpoint::Control& control) override;
  bool clean_leftovers(const std::string& root, const std::function<bool(const std::string&)>& keep,
                       const checkpoint::Control& control) override;
  void retry_aborts(const checkpoint::Control& control) override;
  std::vector<checkpoint::OpenUpload> open_uploads() const override;
  std::string key_problem(const std::string& key) const override;
  unsigned parallelism() const override;  // files at once: the pool's slots

 private:
  std::string full_key(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "/" + key; }
  // An object as messages name it: "s3://bucket/key", "tos://endpoint/bucket/key".
  std::string shown(const std::string& object) const {
    return client_->config().display_root + bucket_ + "/" + object;
  }
  // A large object read in ranges in parallel; nullopt: read it whole instead.
  std::optional<checkpoint::GetResult> get_ranged(const std::string& key, checkpoint::SinkFile& sink,
                                                  const checkpoint::Control& control);
  checkpoint::PutResult put_whole(const std::string& key, checkpoint::SourceFile& in,
                                  const checkpoint::Control& control);
  // The CRC-32C of a file's first `size` bytes, summed in parallel; nullopt if it is
  // shorter (error empty) or cannot be read.
  std::optional<std::uint32_t> file_crc32c(const checkpoint::SourceFile& in, std::uint64_t size,
                                                 std::string& error);
  checkpoint::PutResult put_single(const std::string& key, const std::string& source,
                                   std::unique_ptr<checkpoint::SourceFile> in, const checkpoint::Control& control);
  checkpoint::PutResult put_multipart(const std::string& key, checkpoint::SourceFile& in,
                                      const checkpoint::Control& control);
  // Whether the object now at `object` is the one completed from these parts (asked
  // after a CompleteMultipartUpload whose outcome is not known).
  std::optional<bool> completed_as(const std::string& object, const std::vector<std::string>& etags,
                                   std::uint64_t size, const checkpoint::Control& control);
  // Aborts an upload (within the cleanup budget after a cancel); one that cannot be
  // aborted stays listed and is tried again by retry_aborts().
  void abort_upload(const std::string& object, const std::string& upload_id, const checkpoint::Control& control);
  // After each multipart upload, completed or aborted: a CreateMultipartUpload whose
  // answer was lost may have made an upload whose id nobody learned (the client's retry,
  // or curl's own silent one on a connection that died, made another). Every upload of
  // `object` that is not one of ours is aborted like ours (and listed as open while it
  // cannot be), so none is left billed and unlisted. One ListMultipartUploads per file
  // above the multipart threshold.
  void abort_strays(const std::string& object, const checkpoint::Control& control);

  std::shared_ptr<Client> client_;
  std::string bucket_;
  std::string prefix_;
  struct Open {
    std::string object;
    bool abort_failed = false;
  };
  mutable std::mutex open_mutex_;
  std::map<std::string, Open> open_;  // upload id -> the upload, from create to complete or abort
  std::atomic<bool> strays_listable_{true};  // false once ListMultipartUploads was refused for good
  std::unique_ptr<checkpoint::TransferPool> pool_;  // parts and buffers in flight
};

// The store for an s3://, gs://, tos:// or swift:// URL with the configuration of the
// environment (resolve_store_config); throws
// std::runtime_error saying what is missing (credentials, libcurl).
std::shared_ptr<checkpoint::Store> make_s3_store(const spec::StoreUrl& url);

}  // namespace supervise::s3
