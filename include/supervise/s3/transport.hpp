// The HTTP engine under the object-store clients (S3's and Azure Blob's): pooled easy
// handles whose multi handles keep the connections, a transfer driven through the multi
// handle so that a cancel or a store found down cuts it at once, retries with
// exponential backoff and full jitter, low-speed limits, the StoreHealth reports of
// every attempt, and error messages that never hold a key, token, signature or query.
// A protocol gives each request its full URL, a display name for messages, and a signer
// that authorises each attempt (S3: curl's SigV4; Azure: a SharedKey header or a SAS
// query already in the URL). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "supervise/checkpoint/control.hpp"
#include "supervise/s3/curl_api.hpp"

namespace supervise::s3 {

struct ClientOptions {
  int attempts = 5;  // per request
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{5000};
  long connect_timeout_s = 10;
  long low_speed_bytes = 1024;  // below this many bytes/s ...
  long low_speed_time_s = 20;   // ... for this long, the transfer is cut
  std::uint64_t multipart_threshold = 64ull << 20;
};

struct Outcome {
  bool ok = false;
  bool retryable = false;  // the last failure was transient (attempts ran out)
  long status = 0;         // HTTP status, 0 when no response came
  std::string code;   // the store's error code ("NoSuchUpload", "BlobNotFound"), when it sent one
  std::string error;  // "PUT s3://b/k: 503 SlowDown: Please reduce your request rate"
  std::string body;   // the response body (GET), capped
  std::string etag;
  std::string
      checksum;  // the answer's checksum header (S3: x-amz-checksum-crc32c), when it has one
  std::uint64_t object_size = 0;     // a ranged GET: the whole object's size (Content-Range)
  std::uint64_t content_length = 0;  // HEAD: the object's size
  // A body went up whole at least once without a definite answer (no answer, or a 5xx):
  // the server may have committed it although the request failed.
  bool maybe_committed = false;
  bool gave_up = false;  // stopped by the control (cancelled, store down, deadline)
};

// Produces a request body: fills up to `size` bytes, returns how many (0 at the end,
// -1 to abort the transfer). `rewind()` starts over for a retry; false if it cannot.
struct BodySource {
  std::function<long(char* buffer, std::size_t size)> read;
  std::function<bool()> rewind;
  std::uint64_t size = 0;
};

// Where a GET's body goes instead of memory: `write` takes each piece (false aborts the
// transfer), `rewind` starts over before each attempt (false: give up).
struct BodySink {
  std::function<bool(const char* data, std::size_t size)> write;
  std::function<bool()> rewind;
};

// A body read from memory; `data` must outlive the request.
BodySource memory_body(std::string_view data);

// Bytes first..last of an object, both included (a GET's Range).
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::string if_match;  // the ETag the object must still have (412 if it changed)
};

// How a request may be cut short: by the round's control (cancelled, store down; null:
// never), or, for a cleanup request (an abort after a cancel), only by the cancel's
// cleanup deadline. Each attempt's outcome is reported to the control's StoreHealth.
struct Interrupt {
  const checkpoint::Control* control = nullptr;
  bool cleanup = false;
};

inline constexpr std::size_t kMaxErrorBody = 1 << 20;  // error documents and listings

// One request, tried up to ClientOptions::attempts times.
struct Call {
  std::string method;  // PUT, GET, HEAD, POST, DELETE
  std::string url;     // in full, query included (it may hold a SAS: never shown)
  std::string what;    // for messages: "PUT s3://bucket/key"
  BodySource body;     // PUT/POST body (size 0: none)
  std::string content_type;
  std::vector<std::string> headers;  // more request headers ("x-amz-checksum-crc32c: ...")
  Interrupt interrupt;
  std::chrono::seconds timeout{0};  // whole request; 0: none (the low-speed limit guards it)
  bool low_speed_limit = true;
  std::size_t max_response = kMaxErrorBody;  // a longer answer fails the request
  BodySink sink;                             // GET: a 2xx answer's body goes there
  // Authorises one attempt, just before it goes: may set options on the handle and add
  // headers to the complete list (Content-Type and `headers` are in it already).
  std::function<void(CURL* handle, std::vector<std::string>& headers)> sign;
  // The answer's header that fills Outcome::checksum ("x-amz-checksum-crc32c"), and the
  // one that gives the error code when no error document does (Azure's
  // "x-ms-error-code", for HEAD); empty: none.
  std::string checksum_header;
  std::string error_code_header;
  // Which failures are worth another try: (HTTP status, error code).
  std::function<bool(long status, std::string_view code)> retryable;

  // Set by the engine while it runs.
  long status = 0;  // from the status line, as it arrives
  bool sink_failed = false;
  std::string response;
  std::string etag;
  std::string checksum;
  std::string error_code;
  std::uint64_t object_size = 0;  // from Content-Range
  bool truncated = false;

  const checkpoint::Control* control() const { return interrupt.control; }
  // Why this request must stop now, or "".
  std::string stop_reason() const;
};

class Transport {
 public:
  Transport(const CurlApi& curl, ClientOptions options, std::string ca_bundle);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  const ClientOptions& options() const { return options_; }
  const CurlApi& curl() const { return curl_; }
  Outcome perform(Call& call);

 private:
  // An easy handle and the multi handle that drives it; the multi handle keeps the
  // connections, so a pooled pair reuses them across requests and rounds.
  struct Handle {
    CURL* easy = nullptr;
    CURLM* multi = nullptr;
  };
  Outcome perform_once(Call& call, Handle handle);
  CURLcode transfer(Call& call, Handle handle);
  Handle acquire();
  void release(Handle handle);

  const CurlApi& curl_;
  ClientOptions options_;
  std::string ca_bundle_;
  std::mutex pool_mutex_;
  std::vector<Handle> pool_;
};

}  // namespace supervise::s3
