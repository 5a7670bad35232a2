// The azure://account/container/prefix checkpoint store: Azure Blob Storage's REST API
// over the HTTP engine the S3 store uses (s3/transport.hpp: pooled connections, retries
// with backoff and jitter, low-speed limits, cancel, the down-store rule, secret-free
// messages). A file up to a block goes up with one Put Blob from memory; a larger one
// as blocks (Put Block) in parallel through the store's transfer pool, then one Put Block
// List. Each body carries its Content-MD5, which the service checks. A file that changed
// while read commits nothing: blocks never listed in a Put Block List are not part of
// any blob (the previous blob stays whole) and the service drops them after 7 days, so
// there is nothing to abort. Blob names are "<prefix>/<key>".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "supervise/azure/config.hpp"
#include "supervise/azure/request.hpp"
#include "supervise/checkpoint/store.hpp"
#include "supervise/checkpoint/transfer_pool.hpp"
#include "supervise/s3/transport.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::azure {

// The blob requests the store needs, signed with SharedKey or carrying the SAS.
class Client {
 public:
  Client(Config config, const s3::CurlApi& curl, s3::ClientOptions options = {});
  const Config& config() const { return config_; }
  const s3::CurlApi& curl() const { return transport_.curl(); }

  // `md5`: the body's Content-MD5 (base64), checked by the service; empty: none.
  s3::Outcome put_blob(const std::string& container, const std::string& blob, s3::BodySource body,
                       const std::string& md5, s3::Interrupt interrupt = {});
  s3::Outcome put_block(const std::string& container, const std::string& blob,
                        const std::string& block_id, s3::BodySource body, const std::string& md5,
                        s3::Interrupt interrupt = {});
  s3::Outcome put_block_list(const std::string& container, const std::string& blob,
                             const std::vector<std::string>& block_ids,
                             s3::Interrupt interrupt = {});
  // Get Blob into memory (a manifest), or into `sink` (whole, or a range of it).
  s3::Outcome get_blob(const std::string& container, const std::string& blob,
                       s3::Interrupt interrupt = {});
  s3::Outcome get_blob_to(const std::string& container, const std::string& blob, s3::BodySink sink,
                          s3::Interrupt interrupt = {},
                          std::optional<s3::ByteRange> range = std::nullopt);
  // The Content-MD5 of `data` in base64, "" without libcrypto.
  std::string content_md5(std::string_view data) const;

 private:
  s3::Call call(std::string method, const std::string& container, const std::string& blob,
                Params params, s3::BodySource body = {}, std::string content_type = "",
                s3::Interrupt interrupt = {}) const;

  Config config_;
  s3::Transport transport_;
};

class AzureStore : public checkpoint::Store {
 public:
  AzureStore(std::shared_ptr<Client> client, std::string container, std::string prefix);
  checkpoint::PutResult put_file(const std::string& key, const std::string& source,
                                 const checkpoint::Control& control) override;
  checkpoint::PutResult put_bytes(const std::string& key, std::string_view data,
                                  const checkpoint::Control& control) override;
  checkpoint::GetResult get_bytes(const std::string& key,
                                  const checkpoint::Control& control) override;
  checkpoint::GetResult get_file(const std::string& key, checkpoint::SinkFile& sink,
                                 const checkpoint::Control& control) override;
  // Nothing to clean: an upload that was never committed left only uncommitted blocks,
  // which are no blob, are not listed, and expire after 7 days. Always true.
  bool clean_leftovers(const std::string& root, const std::function<bool(const std::string&)>& keep,
                       const checkpoint::Control& control) override;
  std::string key_problem(const std::string& key) const override;
  unsigned parallelism() const override;  // files at once: the pool's slots

 private:
  std::string full_key(const std::string& key) const {
    return prefix_.empty() ? key : prefix_ + "/" + key;
  }
  std::string shown(const std::string& blob) const;  // "azure://account/container/blob"
  checkpoint::PutResult put_whole(const std::string& key, checkpoint::SourceFile& in,
                                  const checkpoint::Control& control);
  checkpoint::PutResult put_blocks(const std::string& key, checkpoint::SourceFile& in,
                                   const checkpoint::Control& control);

  std::shared_ptr<Client> client_;
  std::string container_;
  std::string prefix_;
  std::unique_ptr<checkpoint::TransferPool> pool_;  // blocks and buffers in flight
};

// The size of each block of a `size`-byte blob: max(block, ceil(size / 50,000)), so that
// no blob needs more than Azure's 50,000 blocks.
std::uint64_t block_size_for(std::uint64_t size, std::uint64_t block);

// The store for an azure:// URL with the configuration of the environment; throws
// std::runtime_error saying what is missing (credentials, libcurl), never a secret.
std::shared_ptr<checkpoint::Store> make_azure_store(const spec::StoreUrl& url);

}  // namespace supervise::azure
