#include "supervise/s3/store.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "supervise/checkpoint/crc32c.hpp"
#include "supervise/s3/request.hpp"
#include "supervise/s3/transfers.hpp"
#include "supervise/utf8.hpp"

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

constexpr std::size_t kMaxKeyBytes = 1024;  // S3's limit on a key

}  // namespace

S3Store::S3Store(std::shared_ptr<Client> client, std::string bucket, std::string prefix)
    : client_(std::move(client)),
      bucket_(std::move(bucket)),
      prefix_(std::move(prefix)),
      pool_(std::make_unique<checkpoint::TransferPool>(client_->config().max_concurrent_requests)) {}

unsigned S3Store::parallelism() const { return pool_->slots(); }

std::string S3Store::key_problem(const std::string& key) const {
  std::string full = full_key(key);
  if (!is_utf8(full)) return "its name is not UTF-8, and S3 keys are UTF-8";
  if (full.size() > kMaxKeyBytes)
    return "its key is " + std::to_string(full.size()) + " bytes long, longer than S3's limit of 1024";
  return "";
}

checkpoint::PutResult S3Store::put_file(const std::string& key, const std::string& source,
                                        const checkpoint::Control& control) {
  auto in = std::make_unique<checkpoint::SourceFile>(source);
  if (!in->ok()) return unopened(*in);
  const std::uint64_t size = in->stamp().size;
  if (size > client_->options().multipart_threshold) return put_multipart(key, *in, control);
  if (size <= client_->config().part_size) return put_whole(key, *in, control);
  return put_single(key, source, std::move(in), control);
}

checkpoint::PutResult S3Store::put_whole(const std::string& key, checkpoint::SourceFile& in,
                                         const checkpoint::Control& control) {
  return put_whole_file(*pool_, in, control, "PUT " + shown(full_key(key)), [&](std::string_view data, std::uint32_t crc) {
    const std::string checksum = client_->config().request_checksums ? checkpoint::crc32c_base64(crc) : "";
    return client_->put_object(bucket_, full_key(key), memory_body(data), {&control}, checksum);
  });
}

checkpoint::PutResult S3Store::put_single(const std::string& key, const std::string& source,
                                          std::unique_ptr<checkpoint::SourceFile> in,
                                          const checkpoint::Control& control) {
  // One PutObject streamed from the file (a file above a part, below the multipart
  // threshold); a retry reads the file again from the start. The request declares the
  // size seen at open. Before the last byte goes, the file is checked: if it moved
  // while being read, the transfer is aborted, so the server never has the whole body
  // and the object keeps its last version. A file that ends early (it shrank) aborts
  // too, or the server would wait for the missing bytes until the low-speed limit cut
  // the connection. A retry needs the very same version. With checksums, the file is
  // read once first for its CRC-32C, which goes in a header before the body (the
  // checksum of the bytes sent is compared with it before the last byte goes).
  const checkpoint::Stamp first = in->stamp();
  const std::uint64_t declared = first.size;
  std::string checksum;
  std::optional<std::uint32_t> expected;
  if (client_->config().request_checksums) {
    std::string error;
    auto crc = file_crc32c(*in, declared, error);
    if (!crc) {
      if (!error.empty()) {
        checkpoint::PutResult r;
        r.error = error;
        return r;
      }
      return changed_result(first);
    }
    expected = *crc;
    checksum = checkpoint::crc32c_base64(*crc);
  }
  std::uint64_t sent = 0;
  bool moved = false;
  BodySource body{[&](char* buffer, std::size_t size) -> long {
                    long n = in->read(buffer, size);
                    if (n < 0) return -1;
                    if (n == 0 && sent < declared) {
                      moved = true;
                      return -1;
                    }
                    sent += static_cast<std::uint64_t>(n);
                    if (n > 0 && sent == declared && (in->changed() || (expected && in->crc32c() != *expected))) {
                      moved = true;
                      return -1;
                    }
                    return n;
                  },
                  [&] {
                    in = std::make_unique<checkpoint::SourceFile>(source);
                    sent = 0;
                    if (in->ok() && !(in->stamp() == first)) moved = true;
                    return in->ok() && !moved;
                  },
                  declared};
  Outcome o = client_->put_object(bucket_, full_key(key), body, {&control}, checksum);
  if (moved) return changed_result(first);
  checkpoint::PutResult r = put_result(o, /*redo_is_cheap=*/true);
  r.stamp = first;
  r.crc32c = in->crc32c();
  if (!o.ok && !in->error().empty()) {
    r.error = in->error();  // the local side failed (a read error, gone on a retry): say so
    r.vanished = in->vanished();
  }
  r.bytes = o.ok ? declared : 0;
  if (o.ok) control.add_moved(declared);
  return r;
}

std::optional<std::uint32_t> S3Store::file_crc32c(const checkpoint::SourceFile& in, std::uint64_t size,
                                                  std::string& error) {
  // In pieces of 8 MiB on the pool's threads (every core sums), combined in order.
  constexpr std::uint64_t kPiece = 8ull << 20;
  constexpr std::size_t kChunk = 1 << 20;
  const std::size_t count = static_cast<std::size_t>((size + kPiece - 1) / kPiece);
  std::vector<std::uint32_t> crcs(count, 0);
  std::mutex mutex;
  std::atomic<bool> failed{false};
  pool_->run(count, [&](std::size_t i) {
    if (failed) return;
    std::string buffer(kChunk, '\0');
    const std::uint64_t first = i * kPiece, end = std::min(size, first + kPiece);
    std::string why;
    for (std::uint64_t offset = first; offset < end; offset += kChunk) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, end - offset));
      if (!in.read_at(buffer.data(), n, offset, why)) {
        std::lock_guard lock(mutex);
        if (!failed.exchange(true)) error = why;
        return;
      }
      crcs[i] = checkpoint::crc32c(crcs[i], buffer.data(), n);
    }
  });
  if (failed) return std::nullopt;
  return checkpoint::crc32c_of_pieces(crcs, kPiece, size);
}

checkpoint::PutResult S3Store::put_multipart(const std::string& key, checkpoint::SourceFile& in,
                                             const checkpoint::Control& control) {
  const std::string object = full_key(key);
  const std::string url = shown(object);
  const bool checksums = client_->config().request_checksums;
  std::string upload_id;
  Outcome o = client_->create_multipart(bucket_, object, upload_id, {&control}, checksums);
  if (!o.ok) {
    checkpoint::PutResult r = put_result(o, /*redo_is_cheap=*/false);
    r.previous_kept = true;  // nothing of an upload is visible before it completes
    return r;
  }
  {
    std::lock_guard lock(open_mutex_);
    open_[upload_id] = {url, false};
  }
  const std::uint64_t size = in.stamp().size;
  const std::uint64_t part = part_size(size, client_->config().part_size);
  const std::size_t count = static_cast<std::size_t>((size + part - 1) / part);
  struct Part {
    std::string etag;
    std::string checksum;
  };
  std::vector<Part> parts(count);
  // The parts go in parallel through the pool (transfers.hpp).
  SentParts sent = send_parts(*pool_, in, part, control, "PUT " + url,
                              [&](std::size_t i, std::string_view data, std::uint32_t crc) {
                                if (checksums) parts[i].checksum = checkpoint::crc32c_base64(crc);
                                Outcome p = client_->upload_part(bucket_, object, upload_id, static_cast<int>(i + 1),
                                                                 memory_body(data), {&control}, parts[i].checksum);
                                parts[i].etag = p.etag;
                                return p;
                              });
  const bool stop = sent.stopped;
  bool moved = sent.moved;
  checkpoint::PutResult r = sent.failure;
  const std::vector<std::uint32_t>& crcs = sent.crcs;
  // Every byte is read: a file that moved meanwhile is not completed (the parts may mix
  // two versions); the object keeps its last version.
  if (!stop && in.changed()) moved = true;
  if (!stop && !moved) {
    std::vector<std::string> etags, sums;
    for (const Part& p : parts) {
      etags.push_back(p.etag);
      if (checksums && client_->config().checksum_headers == Config::ChecksumHeaders::kAmz)
        sums.push_back(p.checksum);
    }
    const std::uint32_t crc = checkpoint::crc32c_of_pieces(crcs, part, size);
    Outcome c = client_->complete_multipart(bucket_, object, upload_id, etags, size, {&control}, sums);
    // An outcome that is not known (no answer, a timeout, a server error, an upload no
    // longer there because an earlier try completed it, a cancel in mid-request): ask
    // the store, unless the round is over.
    bool unknown = !c.ok && (c.gave_up || c.status == 0 || c.status >= 500 || c.code == "NoSuchUpload");
    std::optional<bool> done = c.ok ? std::optional<bool>(true) : std::nullopt;
    if (unknown && !c.gave_up) done = completed_as(object, etags, size, control);
    if (done == true) {
      {
        std::lock_guard lock(open_mutex_);
        open_.erase(upload_id);
      }
      checkpoint::PutResult ok;
      ok.ok = true;
      ok.stamp = in.stamp();
      ok.crc32c = crc;
      ok.bytes = size;
      abort_strays(object, control);
      return ok;
    }
    r = put_result(c, /*redo_is_cheap=*/false);
    // Refused, or found not completed: the object is what it was. Not known: no promise.
    r.previous_kept = !unknown || done.has_value();
  }
  // Nothing may dangle: an upload that was not completed is aborted.
  abort_upload(url, upload_id, control);
  abort_strays(object, control);
  if (moved) return changed_result(in.stamp());
  return r;
}

std::optional<bool> S3Store::completed_as(const std::string& object, const std::vector<std::string>& etags,
                                          std::uint64_t size, const checkpoint::Control& control) {
  Outcome h = client_->head_object(bucket_, object, {&control});
  if (h.status == 404) return false;
  if (!h.ok) {
    spdlog::warn("cannot tell whether {} was completed: {}", shown(object), h.error);
    return std::nullopt;
  }
  if (h.content_length != size) return false;
  auto expected = multipart_etag(etags, [&](std::string_view data) { return md5(client_->curl(), data); });
  if (expected) return h.etag == *expected;
  // No MD5 at hand (or ETags that are not MD5s): the number of parts and the size.
  std::string suffix = "-" + std::to_string(etags.size()) + "\"";
  return h.etag.size() > suffix.size() && h.etag.compare(h.etag.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void S3Store::abort_upload(const std::string& object, const std::string& upload_id,
                           const checkpoint::Control& control) {
  std::string key = object.substr(shown("").size());
  // After a cancel, within the cleanup budget; otherwise with the client's retries, even
  // when the store was found down (it may answer this one).
  checkpoint::Control only_cancel{control.cancel, nullptr};
  Outcome a = client_->abort_multipart(bucket_, key, upload_id, {&only_cancel, /*cleanup=*/true});
  std::lock_guard lock(open_mutex_);
  if (a.ok || a.code == "NoSuchUpload") {
    open_.erase(upload_id);
    return;
  }
  if (auto it = open_.find(upload_id); it != open_.end()) it->second.abort_failed = true;
  spdlog::warn("could not abort the multipart upload {} of {}: {} (tried again later)", upload_id, object, a.error);
}

void S3Store::abort_strays(const std::string& object, const checkpoint::Control& control) {
  // Not after a cancel (the grace period is for what is known to be open; the next run's
  // first round looks for leftovers), and under the down-store rule like any request.
  if (!strays_listable_ || control.cancelled()) return;
  const std::string url = shown(object);
  std::vector<UploadList::Upload> uploads;
  Outcome o = client_->list_multipart_uploads(bucket_, object, uploads, {&control});
  if (o.gave_up) return;  // cancelled or the store is down: the round says so already
  if (!o.ok) {
    // Refused for good (credentials that may put objects but not list uploads): said
    // once, not after every file.
    const bool refused = !o.retryable;
    if (!refused || strays_listable_.exchange(false))
      spdlog::warn("cannot list the multipart uploads of {}{}: {}", url,
                   refused ? " (not tried again: an upload made by a create whose answer was lost would stay open)" : "",
                   o.error);
    return;
  }
  for (const auto& u : uploads) {
    if (u.key != object) continue;  // a longer key with this one as its prefix
    {
      std::lock_guard lock(open_mutex_);
      if (!open_.emplace(u.upload_id, Open{url, false}).second) continue;  // ours, still open
    }
    spdlog::info("aborting the multipart upload {} of {}: a create whose answer was lost made it", u.upload_id, url);
    abort_upload(url, u.upload_id, control);
  }
}

void S3Store::retry_aborts(const checkpoint::Control& control) {
  std::vector<std::pair<std::string, std::string>> failed;
  {
    std::lock_guard lock(open_mutex_);
    for (const auto& [id, upload] : open_)
      if (upload.abort_failed) failed.emplace_back(upload.object, id);
  }
  for (const auto& [object, id] : failed) {
    if (control.cancelled()) return;
    abort_upload(object, id, control);
  }
}

std::vector<checkpoint::OpenUpload> S3Store::open_uploads() const {
  std::lock_guard lock(open_mutex_);
  std::vector<checkpoint::OpenUpload> out;
  for (const auto& [id, upload] : open_) out.push_back({upload.object, id});
  return out;
}

bool S3Store::clean_leftovers(const std::string& root, const std::function<bool(const std::string&)>& /*keep*/,
                              const checkpoint::Control& control) {
  // Multipart uploads under the entry's keys that nobody completed or aborted: a run
  // killed in the middle of one (SIGKILL, a node lost) leaves its parts behind, billed.
  std::string top = full_key(root);
  std::vector<UploadList::Upload> uploads;
  Outcome o = client_->list_multipart_uploads(bucket_, top, uploads, {&control});
  if (!o.ok) {
    // A transient failure: the next round looks again. A permanent one (credentials
    // that may put objects but not list uploads): said once, not every round.
    spdlog::warn("cannot list the multipart uploads left under {}{}: {}", shown(top),
                 o.retryable ? "" : " (not tried again)", o.error);
    return !o.retryable && !o.gave_up;
  }
  std::size_t aborted = 0;
  for (const auto& u : uploads) {
    if (u.key != top && u.key.compare(0, top.size() + 1, top + "/") != 0) continue;  // another entry's
    {
      std::lock_guard lock(open_mutex_);
      if (open_.count(u.upload_id)) continue;  // our own
    }
    Outcome a = client_->abort_multipart(bucket_, u.key, u.upload_id, {&control});
    if (a.ok || a.code == "NoSuchUpload") ++aborted;
    else spdlog::warn("cannot abort the multipart upload {} of {}, left by an earlier run: {}", u.upload_id,
                      shown(u.key), a.error);
  }
  if (aborted > 0)
    spdlog::info("aborted {} multipart {} under {} left by an earlier run", aborted,
                 aborted == 1 ? "upload" : "uploads", shown(top));
  return true;
}

checkpoint::PutResult S3Store::put_bytes(const std::string& key, std::string_view data,
                                         const checkpoint::Control& control) {
  const std::string checksum = client_->config().request_checksums
                                   ? checkpoint::crc32c_base64(checkpoint::crc32c(0, data.data(), data.size()))
                                   : "";
  checkpoint::PutResult r = put_result(client_->put_object(bucket_, full_key(key), memory_body(data), {&control}, checksum),
                                 /*redo_is_cheap=*/true);
  if (r.ok) r.bytes = data.size();
  return r;
}

checkpoint::GetResult S3Store::get_bytes(const std::string& key, const checkpoint::Control& control) {
  Outcome o = client_->get_object(bucket_, full_key(key), {&control});
  checkpoint::GetResult r = get_result(o, "", "NoSuchBucket");
  if (o.ok) r.data = std::move(o.body);
  return r;
}

checkpoint::GetResult S3Store::get_file(const std::string& key, checkpoint::SinkFile& sink,
                                       const checkpoint::Control& control) {
  const std::uint64_t expected = sink.expected();
  if (expected > client_->config().part_size) {
    if (auto ranged = get_ranged(key, sink, control)) return *ranged;
  }
  std::string sink_error;
  Outcome o = client_->get_object_to(bucket_, full_key(key), file_sink(sink, control, sink_error), {&control});
  checkpoint::GetResult r = get_result(o, sink_error.empty() ? "" : "restoring " + key + ": " + sink_error, "NoSuchBucket");
  // The object's own checksum, where the server gave one for the whole object (not a
  // composite "...-N" of a multipart upload's parts): bytes damaged on the way are found
  // here, and read again.
  if (o.ok && client_->config().response_checksums && !o.checksum.empty() && o.checksum.find('-') == std::string::npos &&
      o.checksum != checkpoint::crc32c_base64(sink.crc32c())) {
    r.state = checkpoint::GetResult::State::kFailed;
    r.error = "GET " + shown(full_key(key)) + ": the bytes received do not match the object's CRC-32C";
    r.retryable = true;
  }
  return r;
}

std::optional<checkpoint::GetResult> S3Store::get_ranged(const std::string& key, checkpoint::SinkFile& sink,
                                                         const checkpoint::Control& control) {
  // A large object in parts of the part size, in parallel through the pool (transfers.hpp).
  const std::string object = full_key(key);
  return get_in_ranges(
      *pool_, sink, key, "GET " + shown(object), part_size(sink.expected(), client_->config().part_size), control,
      [&](const ByteRange& range, BodySink body) {
        return client_->get_object_to(bucket_, object, std::move(body), {&control}, range);
      },
      [](const Outcome& o) { return get_result(o, "", "NoSuchBucket"); });
}

std::shared_ptr<checkpoint::Store> make_s3_store(const spec::StoreUrl& url) {
  auto config = resolve_store_config(url, env, read_text);
  if (!config) throw std::runtime_error(config.error());
  if (url.scheme == spec::StoreUrl::Scheme::kSwift) {
    // OSMO checks that the key belongs to the URL's account: "<user>:<account>" names it,
    // a plain key is AUTH_<key>. Other Swift set-ups (Keystone EC2 keys) differ: say it,
    // do not refuse.
    const std::string& id = config->credentials.access_key_id;
    std::size_t colon = id.find(':');
    std::string account = colon == std::string::npos ? "AUTH_" + id : id.substr(colon + 1);
    if (account != url.account)
      spdlog::warn("{}: SWIFT_ACCESS_KEY_ID is not a key of account {} (as OSMO reads keys); requests may be refused",
                   url.text, url.account);
  }
  std::string error;
  const CurlApi* curl = load_curl(error);
  if (curl == nullptr) throw std::runtime_error(error);
  spdlog::debug("{} store {}: region {}, endpoint {}, credentials from {}", url.scheme_name(), url.text, config->region,
                config->endpoint.empty() ? "AWS" : spec::redact_url(config->endpoint), config->credentials.source);
  ClientOptions options;
  options.multipart_threshold = config->multipart_threshold;
  auto client = std::make_shared<Client>(*config, *curl, options);
  return std::make_shared<S3Store>(std::move(client), url.bucket, url.prefix);
}

}  // namespace supervise::s3
