#include "supervise/s3/transport.hpp"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <cstring>
#include <memory>
#include <thread>

#include "supervise/backoff.hpp"
#include "supervise/s3/request.hpp"

namespace supervise::s3 {
namespace {

// The value of header `name` ("etag:") if `line` is that header, trimmed.
bool header_value(std::string_view line, std::string_view name, std::string& out) {
  if (name.empty() || line.size() <= name.size() ||
      strncasecmp(line.data(), name.data(), name.size()) != 0)
    return false;
  std::string_view v = line.substr(name.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
    v.remove_suffix(1);
  out = std::string(v);
  return true;
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

std::string Call::stop_reason() const {
  const checkpoint::Control* c = interrupt.control;
  if (c == nullptr) return "";
  if (interrupt.cleanup) {
    return c->cancel && checkpoint::Clock::now() >= c->cancel->cleanup_deadline()
               ? "cancelled: the grace period ended"
               : "";
  }
  return c->give_up_reason();
}

Transport::Transport(const CurlApi& curl, ClientOptions options, std::string ca_bundle)
    : curl_(curl), options_(options), ca_bundle_(std::move(ca_bundle)) {}

Transport::~Transport() {
  for (Handle h : pool_) {
    curl_.multi_cleanup(h.multi);
    curl_.easy_cleanup(h.easy);
  }
}

Transport::Handle Transport::acquire() {
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

void Transport::release(Handle handle) {
  std::lock_guard lock(pool_mutex_);
  pool_.push_back(handle);
}

CURLcode Transport::transfer(Call& r, Handle h) {
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

Outcome Transport::perform(Call& request) {
  Outcome outcome;
  bool maybe_committed = false;
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    if (attempt > 0) {
      auto wait = full_jitter(options_.backoff_base, options_.backoff_cap, attempt);
      auto until = checkpoint::Clock::now() + wait;
      while (checkpoint::Clock::now() < until && request.stop_reason().empty())
        std::this_thread::sleep_for(std::min<checkpoint::Clock::duration>(
            std::chrono::milliseconds(20), until - checkpoint::Clock::now()));
    }
    if (std::string why = request.stop_reason(); !why.empty()) {
      if (outcome.error.empty()) outcome.error = request.what + ": " + why;
      // After an error, only what stopped the retries ("cancelled", "the store is down"):
      // the round reports the reason in full once, not again for each file.
      else
        outcome.error += " (then " + why.substr(0, why.find(':')) + ")";
      outcome.ok = false;
      outcome.retryable = false;
      outcome.gave_up = true;
      break;
    }
    if (attempt > 0 && request.body.size > 0 && (!request.body.rewind || !request.body.rewind()))
      break;
    if (request.sink.rewind && !request.sink.rewind()) {
      outcome.error = request.what + ": the local file could not be written";
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
      if (outcome.status == 0 || outcome.retryable)
        c->failed(outcome.error);
      else
        c->answered();
    }
    if (outcome.ok || !outcome.retryable) break;
    spdlog::debug("{} (attempt {} of {})", outcome.error, attempt + 1, options_.attempts);
  }
  outcome.maybe_committed = maybe_committed && !outcome.ok;
  return outcome;
}

Outcome Transport::perform_once(Call& r, Handle handle) {
  CURL* h = handle.easy;
  Outcome out;
  r.response.clear();
  r.truncated = false;
  r.etag.clear();
  r.checksum.clear();
  r.error_code.clear();
  r.object_size = 0;
  const std::string& what = r.what;

  std::vector<std::string> lines;
  if (!r.content_type.empty()) lines.push_back("Content-Type: " + r.content_type);
  lines.insert(lines.end(), r.headers.begin(), r.headers.end());
  if (r.sign) r.sign(h, lines);
  curl_slist* headers = nullptr;
  for (const auto& line : lines) headers = curl_.slist_append(headers, line.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_guard(headers, curl_.slist_free_all);

  auto set = curl_.easy_setopt;
  set(h, CURLOPT_URL, r.url.c_str());
  set(h, CURLOPT_NOSIGNAL, 1L);
  // Keys are literal: "a/./b" and "a/../b" are keys of their own, not paths to squash.
  set(h, CURLOPT_PATH_AS_IS, 1L);
  if (!ca_bundle_.empty()) set(h, CURLOPT_CAINFO, ca_bundle_.c_str());
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
    return static_cast<Call*>(user)->stop_reason().empty() ? 0 : 1;
  };
  if (r.control() != nullptr) {
    set(h, CURLOPT_NOPROGRESS, 0L);
    set(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    set(h, CURLOPT_XFERINFODATA, &r);
  }

  using WriteFn = size_t (*)(char*, size_t, size_t, void*);
  WriteFn on_body = [](char* data, size_t size, size_t n, void* user) -> size_t {
    auto* req = static_cast<Call*>(user);
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
    auto* req = static_cast<Call*>(user);
    std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {  // a status line: the last one is the answer's
      auto space = line.find(' ');
      req->status = space == std::string_view::npos
                        ? 0
                        : std::atol(std::string(line.substr(space + 1, 3)).c_str());
    }
    header_value(line, "etag:", req->etag);
    if (!req->checksum_header.empty())
      header_value(line, req->checksum_header + ":", req->checksum);
    if (!req->error_code_header.empty())
      header_value(line, req->error_code_header + ":", req->error_code);
    constexpr std::string_view kRange = "content-range:";  // "bytes 0-99/1234"
    if (line.size() > kRange.size() &&
        strncasecmp(line.data(), kRange.data(), kRange.size()) == 0) {
      auto slash = line.rfind('/');
      if (slash != std::string_view::npos)
        req->object_size = std::strtoull(line.data() + slash + 1, nullptr, 10);
    }
    return size * n;
  };
  set(h, CURLOPT_WRITEFUNCTION, on_body);
  set(h, CURLOPT_WRITEDATA, &r);
  set(h, CURLOPT_HEADERFUNCTION, on_header);
  set(h, CURLOPT_HEADERDATA, &r);

  using ReadFn = size_t (*)(char*, size_t, size_t, void*);
  ReadFn on_read = [](char* buffer, size_t size, size_t n, void* user) -> size_t {
    auto* req = static_cast<Call*>(user);
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
    out.error =
        what + ": the answer is larger than " + std::to_string(r.max_response >> 20) + " MiB";
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
  if (!success && !error && !r.error_code.empty()) error = S3Error{r.error_code, ""};
  if (success && !error && !r.truncated) {
    out.ok = true;
    out.body = std::move(r.response);
    return out;
  }
  const std::string error_code = error ? error->code : "";
  out.retryable =
      r.retryable ? r.retryable(out.status, error_code) : retryable(out.status, error_code);
  out.maybe_committed = body_sent && (out.status >= 500 || out.status < 200);
  if (error) out.code = error->code;
  out.error = what + ": " + std::to_string(out.status);
  // The message's first line (Azure's go on with "RequestId:..." and "Time:..." lines).
  if (error) {
    const std::string message = error->message.substr(0, error->message.find('\n'));
    out.error += " " + error->code + (message.empty() ? "" : ": " + message);
  }
  return out;
}

}  // namespace supervise::s3
