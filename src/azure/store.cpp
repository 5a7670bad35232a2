#include "supervise/azure/store.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <ctime>
#include <stdexcept>

#include "supervise/checkpoint/crc32c.hpp"
#include "supervise/s3/request.hpp"
#include "supervise/s3/transfers.hpp"
#include "supervise/spec/base64.hpp"
#include "supervise/utf8.hpp"

namespace supervise::azure {
namespace {

// Get Blob into memory reads a manifest (as the S3 store allows: 1 GiB).
constexpr std::size_t kMaxBlob = std::size_t{1} << 30;
constexpr std::size_t kMaxNameChars = 1024;  // Azure's limit on a blob name
constexpr std::size_t kMaxSegments = 254;    // ... and on its path segments
constexpr std::uint64_t kMaxBlocks = 50000;  // blocks in one blob
constexpr const char* kMissingContainer = "ContainerNotFound";

}  // namespace

std::uint64_t block_size_for(std::uint64_t size, std::uint64_t block) {
  return std::max<std::uint64_t>(block, (size + kMaxBlocks - 1) / kMaxBlocks);
}

Client::Client(Config config, const s3::CurlApi& curl, s3::ClientOptions options)
    : config_(std::move(config)), transport_(curl, options, config_.ca_bundle) {}

std::string Client::content_md5(std::string_view data) const {
  std::string digest = s3::md5(transport_.curl(), data);
  return digest.empty() ? "" : spec::base64_encode(digest);
}

s3::Call Client::call(std::string method, const std::string& container, const std::string& blob,
                      Params params, s3::BodySource body, std::string content_type,
                      s3::Interrupt interrupt) const {
  s3::Call c;
  c.what = method + " azure://" + config_.account + "/" + container + "/" + blob;
  std::string query = s3::encode_query(params);
  // A SAS is a query of its own, added as it was given (already encoded); the URL is
  // never shown (`what` is).
  if (!config_.sas.empty()) query += (query.empty() ? "" : "&") + config_.sas;
  c.url = blob_url(config_.endpoint, container, blob, query);
  c.body = std::move(body);
  c.content_type = std::move(content_type);
  c.interrupt = interrupt;
  c.headers.push_back(std::string("x-ms-version: ") + kApiVersion);
  c.error_code_header = "x-ms-error-code";  // the code of an answer without a body (HEAD)
  c.retryable = retryable;
  const std::uint64_t length = c.body.size;
  c.sign = [this, method, length, path = url_path(c.url), params = std::move(params)](
               CURL*, std::vector<std::string>& headers) {
    // Each attempt is dated anew (the service refuses a date 15 minutes off).
    headers.push_back("x-ms-date: " + http_date(std::time(nullptr)));
    if (config_.key.empty()) return;  // a SAS: the query authorises
    SignedRequest r{method, length, headers, config_.account, path, params};
    headers.push_back("Authorization: " +
                      shared_key(config_.account, config_.key, string_to_sign(r),
                                 [this](std::string_view key, std::string_view data) {
                                   return s3::hmac_sha256(transport_.curl(), key, data);
                                 }));
  };
  c.method = std::move(method);
  return c;
}

s3::Outcome Client::put_blob(const std::string& container, const std::string& blob,
                             s3::BodySource body, const std::string& md5, s3::Interrupt interrupt) {
  s3::Call c = call("PUT", container, blob, {}, std::move(body), "", interrupt);
  c.headers.push_back("x-ms-blob-type: BlockBlob");
  if (!md5.empty()) c.headers.push_back("Content-MD5: " + md5);
  return transport_.perform(c);
}

s3::Outcome Client::put_block(const std::string& container, const std::string& blob,
                              const std::string& block_id, s3::BodySource body,
                              const std::string& md5, s3::Interrupt interrupt) {
  s3::Call c = call("PUT", container, blob, {{"comp", "block"}, {"blockid", block_id}},
                    std::move(body), "", interrupt);
  if (!md5.empty()) c.headers.push_back("Content-MD5: " + md5);
  return transport_.perform(c);
}

s3::Outcome Client::put_block_list(const std::string& container, const std::string& blob,
                                   const std::vector<std::string>& block_ids,
                                   s3::Interrupt interrupt) {
  const std::string xml = block_list_body(block_ids);
  s3::Call c = call("PUT", container, blob, {{"comp", "blocklist"}}, s3::memory_body(xml),
                    "application/xml", interrupt);
  if (std::string md5 = content_md5(xml); !md5.empty()) c.headers.push_back("Content-MD5: " + md5);
  return transport_.perform(c);
}

s3::Outcome Client::get_blob(const std::string& container, const std::string& blob,
                             s3::Interrupt interrupt) {
  s3::Call c = call("GET", container, blob, {}, {}, "", interrupt);
  c.max_response = kMaxBlob;
  return transport_.perform(c);
}

s3::Outcome Client::get_blob_to(const std::string& container, const std::string& blob,
                                s3::BodySink sink, s3::Interrupt interrupt,
                                std::optional<s3::ByteRange> range) {
  s3::Call c = call("GET", container, blob, {}, {}, "", interrupt);
  c.sink = std::move(sink);
  if (range) {
    c.headers.push_back("x-ms-range: bytes=" + std::to_string(range->first) + "-" +
                        std::to_string(range->last));
    if (!range->if_match.empty()) c.headers.push_back("If-Match: " + range->if_match);
  }
  return transport_.perform(c);
}

AzureStore::AzureStore(std::shared_ptr<Client> client, std::string container, std::string prefix)
    : client_(std::move(client)),
      container_(std::move(container)),
      prefix_(std::move(prefix)),
      pool_(std::make_unique<checkpoint::TransferPool>(client_->config().max_concurrent_requests)) {
}

unsigned AzureStore::parallelism() const {
  return pool_->slots();
}

std::string AzureStore::shown(const std::string& blob) const {
  return "azure://" + client_->config().account + "/" + container_ + "/" + blob;
}

std::string AzureStore::key_problem(const std::string& key) const {
  const std::string full = full_key(key);
  if (!is_utf8(full)) return "its name is not UTF-8, and Azure blob names are UTF-8";
  std::size_t chars = 0, segments = 1;
  for (unsigned char c : full) {
    if ((c & 0xC0) != 0x80) ++chars;  // not a continuation byte: a character starts
    if (c == '/') ++segments;
  }
  if (chars > kMaxNameChars)
    return "its blob name is " + std::to_string(chars) +
           " characters long, longer than Azure's limit of 1024";
  if (segments > kMaxSegments)
    return "its blob name has " + std::to_string(segments) +
           " path segments, more than Azure's limit of 254";
  return "";
}

bool AzureStore::clean_leftovers(const std::string& /*root*/,
                                 const std::function<bool(const std::string&)>& /*keep*/,
                                 const checkpoint::Control& /*control*/) {
  // A killed run leaves only uncommitted blocks: no blob, nothing billed for long (the
  // service drops them after 7 days), and no request can list them without naming the
  // blob. Nothing to do.
  return true;
}

checkpoint::PutResult AzureStore::put_file(const std::string& key, const std::string& source,
                                           const checkpoint::Control& control) {
  checkpoint::SourceFile in(source);
  if (!in.ok()) return s3::unopened(in);
  if (in.stamp().size <= client_->config().block_size) return put_whole(key, in, control);
  return put_blocks(key, in, control);
}

checkpoint::PutResult AzureStore::put_whole(const std::string& key, checkpoint::SourceFile& in,
                                            const checkpoint::Control& control) {
  // One Put Blob from memory, its Content-MD5 before its first byte.
  const std::string blob = full_key(key);
  return s3::put_whole_file(*pool_, in, control, "PUT " + shown(blob),
                            [&](std::string_view data, std::uint32_t) {
                              return client_->put_blob(container_, blob, s3::memory_body(data),
                                                       client_->content_md5(data), {&control});
                            });
}

checkpoint::PutResult AzureStore::put_blocks(const std::string& key, checkpoint::SourceFile& in,
                                             const checkpoint::Control& control) {
  // Blocks of this attempt (ids no other attempt uses) in parallel; then, if the file
  // stayed as it was while every byte was read, one Put Block List commits them. Not
  // committed, they are no blob: the previous blob stays whole.
  const std::string blob = full_key(key);
  const std::uint64_t size = in.stamp().size;
  const std::uint64_t block = block_size_for(size, client_->config().block_size);
  const std::size_t count = static_cast<std::size_t>((size + block - 1) / block);
  const std::string nonce = block_nonce();
  std::vector<std::string> ids(count);
  for (std::size_t i = 0; i < count; ++i) ids[i] = block_id(nonce, i);
  s3::SentParts sent =
      s3::send_parts(*pool_, in, block, control, "PUT " + shown(blob),
                     [&](std::size_t i, std::string_view data, std::uint32_t /*crc*/) {
                       return client_->put_block(container_, blob, ids[i], s3::memory_body(data),
                                                 client_->content_md5(data), {&control});
                     });
  if (sent.moved || (!sent.stopped && in.changed())) return s3::changed_result(in.stamp());
  if (sent.stopped) return sent.failure;
  s3::Outcome c = client_->put_block_list(container_, blob, ids, {&control});
  // Put Block List again with the same ids commits the same blob: the engine's retries
  // are safe, and a failure with no answer makes no promise about the previous blob.
  checkpoint::PutResult r = s3::put_result(c, /*redo_is_cheap=*/false);
  if (!c.ok) return r;
  r.stamp = in.stamp();
  r.crc32c = checkpoint::crc32c_of_pieces(sent.crcs, block, size);
  r.bytes = size;
  return r;
}

checkpoint::PutResult AzureStore::put_bytes(const std::string& key, std::string_view data,
                                            const checkpoint::Control& control) {
  checkpoint::PutResult r =
      s3::put_result(client_->put_blob(container_, full_key(key), s3::memory_body(data),
                                       client_->content_md5(data), {&control}),
                     /*redo_is_cheap=*/true);
  if (r.ok) r.bytes = data.size();
  return r;
}

checkpoint::GetResult AzureStore::get_bytes(const std::string& key,
                                            const checkpoint::Control& control) {
  s3::Outcome o = client_->get_blob(container_, full_key(key), {&control});
  checkpoint::GetResult r = s3::get_result(o, "", kMissingContainer);
  if (o.ok) r.data = std::move(o.body);
  return r;
}

checkpoint::GetResult AzureStore::get_file(const std::string& key, checkpoint::SinkFile& sink,
                                           const checkpoint::Control& control) {
  const std::string blob = full_key(key);
  const std::uint64_t expected = sink.expected();
  const std::uint64_t block = client_->config().block_size;
  if (expected > block) {
    auto ranged = s3::get_in_ranges(
        *pool_, sink, key, "GET " + shown(blob), block_size_for(expected, block), control,
        [&](const s3::ByteRange& range, s3::BodySink body) {
          return client_->get_blob_to(container_, blob, std::move(body), {&control}, range);
        },
        [](const s3::Outcome& o) { return s3::get_result(o, "", kMissingContainer); });
    if (ranged) return *ranged;
  }
  std::string sink_error;
  s3::Outcome o =
      client_->get_blob_to(container_, blob, s3::file_sink(sink, control, sink_error), {&control});
  return s3::get_result(o, sink_error.empty() ? "" : "restoring " + key + ": " + sink_error,
                        kMissingContainer);
}

std::shared_ptr<checkpoint::Store> make_azure_store(const spec::StoreUrl& url) {
  auto config =
      resolve_config(url.account, [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
      });
  if (!config) throw std::runtime_error(config.error());
  std::string error;
  const s3::CurlApi* curl = s3::load_curl(error);
  if (curl == nullptr) throw std::runtime_error(error);
  if (!config->key.empty() && curl->hmac == nullptr)
    throw std::runtime_error(
        "Azure SharedKey signing needs HMAC-SHA256 from OpenSSL's libcrypto.so.3, which "
        "libcurl did not load: use a SAS token (AZURE_STORAGE_SAS_TOKEN)");
  spdlog::debug("azure store {}: endpoint {}, credentials from {} ({}), x-ms-version {}", url.text,
                spec::redact_url(config->endpoint), config->source,
                config->key.empty() ? "SAS" : "SharedKey", kApiVersion);
  auto client = std::make_shared<Client>(*config, *curl);
  return std::make_shared<AzureStore>(std::move(client), url.bucket, url.prefix);
}

}  // namespace supervise::azure
