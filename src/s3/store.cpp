#include "supervise/s3/store.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "supervise/s3/request.hpp"

namespace supervise::s3 {
namespace {

std::optional<std::string> env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? std::optional<std::string>(v) : std::nullopt;
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `redo_is_cheap`: a single PutObject may be tried again by the round after the client's
// own attempts (a burst of faults can outlast them); a multipart upload, whose parts the
// client has already retried, is not redone from its first part in the same round.
checkpoint::PutResult from(const Outcome& o, bool redo_is_cheap) {
  checkpoint::PutResult r;
  r.ok = o.ok;
  r.retryable = redo_is_cheap && o.retryable;
  r.error = o.error;
  return r;
}

}  // namespace

S3Store::S3Store(std::shared_ptr<Client> client, std::string bucket, std::string prefix)
    : client_(std::move(client)), bucket_(std::move(bucket)), prefix_(std::move(prefix)) {}

checkpoint::PutResult S3Store::put_file(const std::string& key, const std::string& source) {
  auto in = std::make_unique<checkpoint::SourceFile>(source);
  if (!in->ok()) {
    checkpoint::PutResult r;
    r.vanished = in->vanished();
    r.error = in->error();
    return r;
  }
  if (in->stamp().size > client_->options().multipart_threshold) return put_multipart(key, *in);

  // One PutObject streamed from the file; a retry reads the file again from the start.
  // The request declares the size seen at open: a file that ends before it (it shrank
  // meanwhile) must abort the transfer, or the server waits for the missing bytes until
  // the low-speed limit cuts the connection, on every attempt. A retry needs the same
  // size too.
  const std::uint64_t declared = in->stamp().size;
  std::uint64_t sent = 0;
  bool shrank = false;
  BodySource body{[&](char* buffer, std::size_t size) -> long {
                    long n = in->read(buffer, size);
                    if (n == 0 && sent < declared) {
                      shrank = true;
                      return -1;
                    }
                    if (n > 0) sent += static_cast<std::uint64_t>(n);
                    return n;
                  },
                  [&] {
                    in = std::make_unique<checkpoint::SourceFile>(source);
                    sent = 0;
                    shrank = false;
                    return in->ok() && in->stamp().size == declared;
                  },
                  declared};
  Outcome o = client_->put_object(bucket_, full_key(key), body);
  checkpoint::PutResult r = from(o, /*redo_is_cheap=*/true);
  r.stamp = in->stamp();
  r.crc32c = in->crc32c();
  if (shrank) {
    // Nothing was stored (the object keeps its last version): the file changed while it
    // was read and must be stored again, as the engine does for a changed file.
    r = {};
    r.ok = true;
    r.changed = true;
    r.stamp = in->stamp();
    return r;
  }
  if (!o.ok && !in->error().empty()) {
    r.error = in->error();  // the local side failed (a read error, gone on a retry): say so
    r.vanished = in->vanished();
  }
  r.bytes = o.ok ? declared : 0;
  r.changed = o.ok && in->changed();
  return r;
}

checkpoint::PutResult S3Store::put_multipart(const std::string& key, checkpoint::SourceFile& in) {
  std::string object = full_key(key);
  std::string upload_id;
  Outcome o = client_->create_multipart(bucket_, object, upload_id);
  if (!o.ok) return from(o, /*redo_is_cheap=*/false);
  const std::uint64_t size = in.stamp().size;
  const std::uint64_t part = part_size(size);
  std::vector<std::string> etags;
  std::string buffer;
  checkpoint::PutResult r;
  bool shrank = false;
  for (std::uint64_t offset = 0; offset < size; offset += part) {
    // The part is read once into memory, so a retry resends the same bytes.
    buffer.resize(static_cast<std::size_t>(std::min(part, size - offset)));
    std::size_t filled = 0;
    while (filled < buffer.size()) {
      long n = in.read(buffer.data() + filled, buffer.size() - filled);
      if (n <= 0) break;
      filled += static_cast<std::size_t>(n);
    }
    if (filled < buffer.size()) {
      shrank = in.error().empty();
      r.error = shrank ? "cannot read " + key + ": it shrank while being read" : in.error();
      break;
    }
    Outcome p = client_->upload_part(bucket_, object, upload_id, static_cast<int>(etags.size() + 1),
                                     memory_body(buffer));
    if (!p.ok) {
      r = from(p, /*redo_is_cheap=*/false);
      break;
    }
    etags.push_back(p.etag);
  }
  if (etags.size() * part >= size && r.error.empty()) {
    Outcome c = client_->complete_multipart(bucket_, object, upload_id, etags);
    if (c.ok) {
      r.ok = true;
      r.stamp = in.stamp();
      r.crc32c = in.crc32c();
      r.bytes = size;
      r.changed = in.changed();
      return r;
    }
    r = from(c, /*redo_is_cheap=*/false);
  }
  // Nothing may dangle: a failed upload's parts are removed.
  Outcome a = client_->abort_multipart(bucket_, object, upload_id);
  if (!a.ok) spdlog::warn("could not abort the multipart upload of {}: {}", object, a.error);
  if (shrank) {
    // Not a failure: the file changed while it was read and must be stored again, as
    // the engine does for a changed file (only when the result is ok).
    r = {};
    r.ok = true;
    r.changed = true;
    r.stamp = in.stamp();
  }
  return r;
}

checkpoint::PutResult S3Store::put_bytes(const std::string& key, std::string_view data) {
  checkpoint::PutResult r = from(client_->put_object(bucket_, full_key(key), memory_body(data)), /*redo_is_cheap=*/true);
  if (r.ok) r.bytes = data.size();
  return r;
}

std::shared_ptr<checkpoint::Store> make_s3_store(const spec::StoreUrl& url) {
  auto config = resolve_config(env, read_text);
  if (!config) throw std::runtime_error(config.error());
  std::string error;
  const CurlApi* curl = load_curl(error);
  if (curl == nullptr) throw std::runtime_error(error);
  spdlog::debug("S3 store {}: region {}, endpoint {}, credentials from {}", url.text, config->region,
                config->endpoint.empty() ? "AWS" : spec::redact_url(config->endpoint), config->credentials.source);
  ClientOptions options;
  options.multipart_threshold = config->multipart_threshold;
  auto client = std::make_shared<Client>(*config, *curl, options);
  return std::make_shared<S3Store>(std::move(client), url.bucket, url.prefix);
}

}  // namespace supervise::s3
