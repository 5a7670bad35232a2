#include "supervise/s3/client.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <thread>

#include "supervise/backoff.hpp"
#include "supervise/s3/request.hpp"

namespace supervise::s3 {
namespace {

constexpr std::size_t kMaxBody = 1 << 20;  // error documents and listings
// GetObject reads a manifest: about 105 bytes per file, so millions of files fit (the
// file:// store allows the same).
constexpr std::size_t kMaxObject = std::size_t{1} << 30;

std::string display(const std::string& bucket, const std::string& key) { return "s3://" + bucket + "/" + key; }

// The checksum headers of a PutObject or UploadPart, as the AWS SDKs send them: the
// value, and the algorithm (which makes S3, and moto, keep it with the object).
void add_checksum(std::vector<std::string>& headers, const std::string& checksum) {
  if (checksum.empty()) return;
  headers.push_back("x-amz-checksum-crc32c: " + checksum);
  headers.push_back("x-amz-sdk-checksum-algorithm: CRC32C");
}

}  // namespace

BodySource memory_body(std::string_view data) {
  auto offset = std::make_shared<std::size_t>(0);
  return {[data, offset](char* buffer, std::size_t size) -> long {
            std::size_t n = std::min(size, data.size() - *offset);
            std::memcpy(buffer, data.data() + *offset, n);
            *offset += n;
            return static_cast<long>(n);
          },
          [offset] {
            *offset = 0;
            return true;
          },
          data.size()};
}

struct Client::Request {
  std::string method;  // PUT, GET, HEAD, POST, DELETE
  std::string bucket;
  std::string key;
  std::string query;  // already encoded and sorted
  BodySource body;    // PUT/POST body (size 0: none)
  std::string content_type;
  std::vector<std::string> headers;  // more request headers ("x-amz-checksum-crc32c: ...")
  Interrupt interrupt;
  std::chrono::seconds timeout{0};  // whole request; 0: none (the low-speed limit guards it)
  bool low_speed_limit = true;
  std::size_t max_response = kMaxBody;  // a longer answer fails the request
  BodySink sink;                         // GET: a 2xx answer's body goes there
  long status = 0;                       // from the status line, as it arrives
  bool sink_failed = false;
  // Filled by perform_once.
  std::string response;
  std::string etag;
  std::string checksum;  // x-amz-checksum-crc32c of the answer
  std::uint64_t object_size = 0;  // from Content-Range
  bool truncated = false;

  Request(std::string m, std::string b, std::string k, std::string q = "", BodySource body_source = {},
          std::string type = "", Interrupt i = {})
      : method(std::move(m)), bucket(std::move(b)), key(std::move(k)), query(std::move(q)),
        body(std::move(body_source)), content_type(std::move(type)), interrupt(i) {}

  const checkpoint::Control* control() const { return interrupt.control; }
  // Why this request must stop now, or "".
  std::string stop_reason() const {
    const checkpoint::Control* c = interrupt.control;
    if (c == nullptr) return "";
    if (interrupt.cleanup) {
      return c->cancel && checkpoint::Clock::now() >= c->cancel->cleanup_deadline()
                 ? "cancelled: the grace period ended"
                 : "";
    }
    return c->give_up_reason();
  }
};

Client::Client(Config config, const CurlApi& curl, ClientOptions options)
    : config_(std::move(config)), curl_(curl), options_(options) {}

Client::~Client() {
  for (Handle h : pool_) {
    curl_.multi_cleanup(h.multi);
    curl_.easy_cleanup(h.easy);
  }
}

Client::Handle Client::acquire() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      Handle h = pool_.back();
      pool_.pop_back();
      curl_.easy_reset(h.easy);  // options cleared; the connections (the multi handle's) stay
      return h;
    }
  }
  Handle h{curl_.easy_init(), curl_.multi_init()};
  if (h.easy == nullptr || h.multi == nullptr) {
    if (h.multi != nullptr) curl_.multi_cleanup(h.multi);
    if (h.easy != nullptr) curl_.easy_cleanup(h.easy);
    return {};
  }
  return h;
}

void Client::release(Handle handle) {
  std::lock_guard lock(pool_mutex_);
  pool_.push_back(handle);
}

CURLcode Client::transfer(Request& r, Handle h) {
  // Not curl_easy_perform: while it waits for an answer it calls the progress callback
  // only about once a second, and a request cut by a cancel must end well within the
  // cleanup budget of a short grace period (a tenth of it: 0.3 s of 3 s), so that the
  // abort of its multipart upload can still go out. Here the stop is looked at after
  // every wait of at most kStopCheckMs.
  constexpr int kStopCheckMs = 50;
  if (curl_.multi_add_handle(h.multi, h.easy) != CURLM_OK) return CURLE_FAILED_INIT;
  CURLcode result = CURLE_FAILED_INIT;
  for (;;) {
    int running = 0;
    if (curl_.multi_perform(h.multi, &running) != CURLM_OK) break;
    bool done = false;
    int left = 0;
    while (CURLMsg* m = curl_.multi_info_read(h.multi, &left)) {
      if (m->msg == CURLMSG_DONE && m->easy_handle == h.easy) {
        result = m->data.result;
        done = true;
      }
    }
    if (done || running == 0) break;
    if (!r.stop_reason().empty()) {
      result = CURLE_ABORTED_BY_CALLBACK;  // as the progress callback would say
      break;
    }
    if (curl_.multi_poll(h.multi, nullptr, 0, kStopCheckMs, nullptr) != CURLM_OK) break;
  }
  // Removed mid-transfer (a stop), the connection is closed, not reused.
  curl_.multi_remove_handle(h.multi, h.easy);
  return result;
}

Outcome Client::perform(Request& request) {
  Outcome outcome;
  bool maybe_committed = false;
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    if (attempt > 0) {
      auto wait = full_jitter(options_.backoff_base, options_.backoff_cap, attempt);
      auto until = checkpoint::Clock::now() + wait;
      while (checkpoint::Clock::now() < until && request.stop_reason().empty())
        std::this_thread::sleep_for(std::min<checkpoint::Clock::duration>(std::chrono::milliseconds(20),
                                                                           until - checkpoint::Clock::now()));
    }
    if (std::string why = request.stop_reason(); !why.empty()) {
      if (outcome.error.empty()) outcome.error = request.method + " " + display(request.bucket, request.key) + ": " + why;
      // After an error, only what stopped the retries ("cancelled", "the store is down"):
      // the round reports the reason in full once, not again for each file.
      else outcome.error += " (then " + why.substr(0, why.find(':')) + ")";
      outcome.ok = false;
      outcome.retryable = false;
      outcome.gave_up = true;
      break;
    }
    if (attempt > 0 && request.body.size > 0 && (!request.body.rewind || !request.body.rewind())) break;
    if (request.sink.rewind && !request.sink.rewind()) {
      outcome.error = request.method + " " + display(request.bucket, request.key) + ": the local file could not be written";
      outcome.ok = false;
      outcome.retryable = false;
      break;
    }
    request.status = 0;
    Handle handle = acquire();
    if (handle.easy == nullptr) {
      outcome.error = "curl_easy_init or curl_multi_init failed";
      break;
    }
    outcome = perform_once(request, handle);
    release(handle);
    maybe_committed = maybe_committed || outcome.maybe_committed;
    if (const checkpoint::Control* c = request.control(); c != nullptr && !outcome.gave_up) {
      // For the down-store rule: an answer (even 403 or 404) means the store is up.
      if (outcome.status == 0 || outcome.retryable) c->failed(outcome.error);
      else c->answered();
    }
    if (outcome.ok || !outcome.retryable) break;
    spdlog::debug("{} (attempt {} of {})", outcome.error, attempt + 1, options_.attempts);
  }
  outcome.maybe_committed = maybe_committed && !outcome.ok;
  return outcome;
}

Outcome Client::perform_once(Request& r, Handle handle) {
  CURL* h = handle.easy;
  Outcome out;
  r.response.clear();
  r.truncated = false;
  r.etag.clear();
  r.checksum.clear();
  r.object_size = 0;
  std::string url = object_url(config_, r.bucket, r.key) + (r.query.empty() ? "" : "?" + r.query);
  std::string what = r.method + " " + display(r.bucket, r.key);
  std::string sigv4 = "aws:amz:" + config_.region + ":s3";

  // Headers curl 7.88 does not add by itself. It signs what is there: the payload hash
  // header must always be present; the session token is ours to add.
  curl_slist* headers = nullptr;
  headers = curl_.slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (!config_.credentials.session_token.empty())
    headers = curl_.slist_append(headers, ("x-amz-security-token: " + config_.credentials.session_token).c_str());
  if (!r.content_type.empty()) headers = curl_.slist_append(headers, ("Content-Type: " + r.content_type).c_str());
  for (const auto& extra : r.headers) headers = curl_.slist_append(headers, extra.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_guard(headers, curl_.slist_free_all);

  auto set = curl_.easy_setopt;
  set(h, CURLOPT_URL, url.c_str());
  set(h, CURLOPT_NOSIGNAL, 1L);
  // S3 keys are literal: "a/./b" and "a/../b" are keys of their own, not paths to squash.
  set(h, CURLOPT_PATH_AS_IS, 1L);
  if (!config_.ca_bundle.empty()) set(h, CURLOPT_CAINFO, config_.ca_bundle.c_str());
  set(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  set(h, CURLOPT_USERNAME, config_.credentials.access_key_id.c_str());
  set(h, CURLOPT_PASSWORD, config_.credentials.secret_access_key.c_str());
  set(h, CURLOPT_HTTPHEADER, headers);
  set(h, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
  if (r.low_speed_limit) {
    set(h, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
    set(h, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
  }
  if (r.timeout.count() > 0) set(h, CURLOPT_TIMEOUT, static_cast<long>(r.timeout.count()));
  set(h, CURLOPT_TCP_KEEPALIVE, 1L);
  // A cancel (or a store declared down) cuts a transfer in progress: curl calls this
  // at least once a second, and more often while data moves.
  using ProgressFn = int (*)(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
  ProgressFn on_progress = [](void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
    return static_cast<Request*>(user)->stop_reason().empty() ? 0 : 1;
  };
  if (r.control() != nullptr) {
    set(h, CURLOPT_NOPROGRESS, 0L);
    set(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    set(h, CURLOPT_XFERINFODATA, &r);
  }

  using WriteFn = size_t (*)(char*, size_t, size_t, void*);
  WriteFn on_body = [](char* data, size_t size, size_t n, void* user) -> size_t {
    auto* req = static_cast<Request*>(user);
    std::size_t bytes = size * n;
    if (req->sink.write && req->status >= 200 && req->status < 300) {
      if (req->sink.write(data, bytes)) return bytes;
      req->sink_failed = true;
      return 0;
    }
    if (req->response.size() + bytes > req->max_response) {
      req->truncated = true;  // not silently: the request fails
      return 0;
    }
    req->response.append(data, bytes);
    return bytes;
  };
  WriteFn on_header = [](char* data, size_t size, size_t n, void* user) -> size_t {
    auto* req = static_cast<Request*>(user);
    std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {  // a status line: the last one is the answer's
      auto space = line.find(' ');
      req->status = space == std::string_view::npos ? 0 : std::atol(std::string(line.substr(space + 1, 3)).c_str());
    }
    if (line.size() > 5 && strncasecmp(line.data(), "etag:", 5) == 0) {
      std::string_view v = line.substr(5);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      req->etag = std::string(v);
    }
    constexpr std::string_view kChecksum = "x-amz-checksum-crc32c:";
    if (line.size() > kChecksum.size() && strncasecmp(line.data(), kChecksum.data(), kChecksum.size()) == 0) {
      std::string_view v = line.substr(kChecksum.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      req->checksum = std::string(v);
    }
    constexpr std::string_view kRange = "content-range:";  // "bytes 0-99/1234"
    if (line.size() > kRange.size() && strncasecmp(line.data(), kRange.data(), kRange.size()) == 0) {
      auto slash = line.rfind('/');
      if (slash != std::string_view::npos) req->object_size = std::strtoull(line.data() + slash + 1, nullptr, 10);
    }
    return size * n;
  };
  set(h, CURLOPT_WRITEFUNCTION, on_body);
  set(h, CURLOPT_WRITEDATA, &r);
  set(h, CURLOPT_HEADERFUNCTION, on_header);
  set(h, CURLOPT_HEADERDATA, &r);

  using ReadFn = size_t (*)(char*, size_t, size_t, void*);
  ReadFn on_read = [](char* buffer, size_t size, size_t n, void* user) -> size_t {
    auto* req = static_cast<Request*>(user);
    long got = req->body.read(buffer, size * n);
    return got < 0 ? CURL_READFUNC_ABORT : static_cast<size_t>(got);
  };
  if (r.method == "PUT") {
    // Bodies go up through the read callback (never as form data), with their length;
    // curl's own Expect: 100-continue handling is left alone.
    set(h, CURLOPT_UPLOAD, 1L);
    set(h, CURLOPT_READFUNCTION, on_read);
    set(h, CURLOPT_READDATA, &r);
    set(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size));
  } else if (r.method == "POST") {
    set(h, CURLOPT_POST, 1L);
    set(h, CURLOPT_READFUNCTION, on_read);
    set(h, CURLOPT_READDATA, &r);
    set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size));
  } else if (r.method == "DELETE") {
    set(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else if (r.method == "HEAD") {
    set(h, CURLOPT_NOBODY, 1L);
  }

  CURLcode code = transfer(r, handle);
  curl_off_t uploaded = 0;
  curl_.easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &uploaded);
  const bool body_sent = r.body.size > 0 && static_cast<std::uint64_t>(uploaded) >= r.body.size;
  if (r.truncated) {
    out.error = what + ": the answer is larger than " + std::to_string(r.max_response >> 20) + " MiB";
    return out;
  }
  if (r.sink_failed) {
    out.error = what + ": the local file could not be written";
    out.gave_up = true;  // not the store's fault: no retry, no count against it
    return out;
  }
  if (code != CURLE_OK) {
    if (code == CURLE_ABORTED_BY_CALLBACK && !r.stop_reason().empty()) {
      out.error = what + ": " + r.stop_reason();
      out.gave_up = true;
    } else {
      out.error = what + ": " + curl_.easy_strerror(code);
    }
    out.retryable = code != CURLE_ABORTED_BY_CALLBACK && code != CURLE_READ_ERROR;
    out.maybe_committed = body_sent;
    return out;
  }
  curl_.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  out.etag = r.etag;
  out.checksum = r.checksum;
  out.object_size = r.object_size;
  curl_off_t length = -1;
  curl_.easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length > 0) out.content_length = static_cast<std::uint64_t>(length);
  const bool success = out.status >= 200 && out.status < 300;
  // CompleteMultipartUpload can answer 200 with an <Error> document. The body of a
  // successful GET is the object's bytes, whatever they hold: never an error.
  auto error = success && r.method == "GET" ? std::nullopt : parse_error(r.response);
  if (success && !error && !r.truncated) {
    out.ok = true;
    out.body = std::move(r.response);
    return out;
  }
  out.retryable = retryable(out.status, error ? error->code : "");
  out.maybe_committed = body_sent && (out.status >= 500 || out.status < 200);
  if (error) out.code = error->code;
  out.error = what + ": " + std::to_string(out.status);
  if (error) out.error += " " + error->code + (error->message.empty() ? "" : ": " + error->message);
  return out;
}

Outcome Client::put_object(const std::string& bucket, const std::string& key, BodySource body, Interrupt interrupt,
                           const std::string& checksum) {
  Request r("PUT", bucket, key, "", std::move(body), "", interrupt);
  add_checksum(r.headers, checksum);
  return perform(r);
}

Outcome Client::get_object(const std::string& bucket, const std::string& key, Interrupt interrupt) {
  Request r("GET", bucket, key, "", {}, "", interrupt);
  r.max_response = kMaxObject;
  return perform(r);
}

Outcome Client::get_object_to(const std::string& bucket, const std::string& key, BodySink sink,
                              Interrupt interrupt, std::optional<ByteRange> range) {
  Request r("GET", bucket, key, "", {}, "", interrupt);
  r.sink = std::move(sink);
  if (range) {
    r.headers.push_back("Range: bytes=" + std::to_string(range->first) + "-" + std::to_string(range->last));
    if (!range->if_match.empty()) r.headers.push_back("If-Match: " + range->if_match);
  } else if (config_.response_checksums) {
    // The object's own checksum comes back with it (S3 sends none for a range).
    r.headers.push_back("x-amz-checksum-mode: ENABLED");
  }
  return perform(r);
}

Outcome Client::head_object(const std::string& bucket, const std::string& key, Interrupt interrupt) {
  Request r("HEAD", bucket, key, "", {}, "", interrupt);
  return perform(r);
}

Outcome Client::create_multipart(const std::string& bucket, const std::string& key, std::string& upload_id,
                                 Interrupt interrupt, bool checksums) {
  static const std::string empty;
  // The Content-Type of CreateMultipartUpload becomes the object's: without one, curl's
  // POST default (application/x-www-form-urlencoded) would. Use S3's own default.
  Request r("POST", bucket, key, encode_query({{"uploads", ""}}), memory_body(empty), "binary/octet-stream",
            interrupt);
  if (checksums) r.headers.push_back("x-amz-checksum-algorithm: CRC32C");
  Outcome out = perform(r);
  if (out.ok) {
    upload_id = xml_element(out.body, "UploadId").value_or("");
    if (upload_id.empty()) {
      out.ok = false;
      out.error = "POST " + display(bucket, key) + "?uploads: no UploadId in the answer";
    }
  }
  return out;
}

Outcome Client::upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                            int part, BodySource body, Interrupt interrupt, const std::string& checksum) {
  Request r("PUT", bucket, key, encode_query({{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}),
            std::move(body), "", interrupt);
  add_checksum(r.headers, checksum);
  return perform(r);
}

Outcome Client::complete_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                   const std::vector<std::string>& etags, std::uint64_t size, Interrupt interrupt,
                                   const std::vector<std::string>& checksums) {
  std::string xml = complete_multipart_body(etags, checksums);
  Request r("POST", bucket, key, encode_query({{"uploadId", upload_id}}), memory_body(xml), "application/xml",
            interrupt);
  r.low_speed_limit = false;
  r.timeout = complete_timeout(size);
  return perform(r);
}

Outcome Client::abort_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                Interrupt interrupt) {
  Request r("DELETE", bucket, key, encode_query({{"uploadId", upload_id}}), {}, "", interrupt);
  return perform(r);
}

Outcome Client::list_multipart_uploads(const std::string& bucket, const std::string& prefix,
                                       std::vector<UploadList::Upload>& uploads, Interrupt interrupt) {
  std::string key_marker, id_marker;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> query = {{"uploads", ""}, {"prefix", prefix}};
    if (!key_marker.empty()) query.push_back({"key-marker", key_marker});
    if (!id_marker.empty()) query.push_back({"upload-id-marker", id_marker});
    // The bucket itself is the resource: an empty key.
    Request r("GET", bucket, "", encode_query(query), {}, "", interrupt);
    Outcome out = perform(r);
    if (!out.ok) return out;
    UploadList page = parse_upload_list(out.body);
    uploads.insert(uploads.end(), page.uploads.begin(), page.uploads.end());
    if (!page.truncated || (page.next_key_marker.empty() && page.next_upload_id_marker.empty())) return out;
    key_marker = page.next_key_marker;
    id_marker = page.next_upload_id_marker;
  }
}

}  // namespace supervise::s3
