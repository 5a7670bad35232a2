// A small S3 client over libcurl with its built-in SigV4 signing: PutObject (streamed
// from a file or from memory), multipart upload (create, parts, complete, abort, list),
// GetObject and HeadObject. Each request is retried with exponential backoff and full
// jitter on throttling, server errors and connection errors; a stalled connection is
// cut by low-speed limits; a cancel or a store found down cuts a request at once.
// Easy handles are pooled, so connections are reused. Thread-safe. No error message or
// log line ever holds a key, token or signature.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervise/checkpoint/control.hpp"
#include "supervise/s3/config.hpp"
#include "supervise/s3/curl_api.hpp"
#include "supervise/s3/request.hpp"

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
  std::string code;        // S3's error code ("NoSuchUpload"), when it sent one
  std::string error;       // "PUT s3://b/k: 503 SlowDown: Please reduce your request rate"
  std::string body;        // the response body (GET), capped
  std::string etag;
  std::string checksum;  // the answer's x-amz-checksum-crc32c, when it has one
  std::uint64_t object_size = 0;  // a ranged GET: the whole object's size (Content-Range)
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

// How a request may be cut short: by the round's control (cancelled, store down; null:
// never), or, for a cleanup request (an abort after a cancel), only by the cancel's
// cleanup deadline. Each attempt's outcome is reported to the control's StoreHealth.
// Bytes first..last of an object, both included (a GET's Range).
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::string if_match;  // the ETag the object must still have (412 if it changed)
};

struct Interrupt {
  const checkpoint::Control* control = nullptr;
  bool cleanup = false;
};

class Client {
 public:
  Client(Config config, const CurlApi& curl, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const { return config_; }
  const ClientOptions& options() const { return options_; }
  const CurlApi& curl() const { return curl_; }

  // `checksum`: the body's CRC-32C in S3's base64 form, sent for the server to verify
  // (empty: none).
  Outcome put_object(const std::string& bucket, const std::string& key, BodySource body, Interrupt interrupt = {},
                     const std::string& checksum = "");
  Outcome get_object(const std::string& bucket, const std::string& key, Interrupt interrupt = {});
  // GetObject of any size (or of a range of it), its body (of a 2xx answer) into
  // `sink`. A whole object is asked with its checksum unless response checksums are off.
  Outcome get_object_to(const std::string& bucket, const std::string& key, BodySink sink, Interrupt interrupt = {},
                        std::optional<ByteRange> range = std::nullopt);
  Outcome head_object(const std::string& bucket, const std::string& key, Interrupt interrupt = {});
  // Multipart: create, upload parts 1..n, complete; abort on any failure.
  // `checksums`: the parts will carry CRC-32C checksums (x-amz-checksum-algorithm).
  Outcome create_multipart(const std::string& bucket, const std::string& key, std::string& upload_id,
                           Interrupt interrupt = {}, bool checksums = false);
  Outcome upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id, int part,
                      BodySource body, Interrupt interrupt = {}, const std::string& checksum = "");
  // No low-speed limit here (the server may think for minutes before it answers), but
  // a deadline of complete_timeout(size).
  Outcome complete_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                             const std::vector<std::string>& etags, std::uint64_t size, Interrupt interrupt = {},
                             const std::vector<std::string>& checksums = {});
  Outcome abort_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                          Interrupt interrupt = {});
  // Every multipart upload in progress whose key starts with `prefix` (all pages).
  Outcome list_multipart_uploads(const std::string& bucket, const std::string& prefix,
                                 std::vector<UploadList::Upload>& uploads, Interrupt interrupt = {});

 private:
  struct Request;
  // An easy handle and the multi handle that drives it; the multi handle keeps the
  // connections, so a pooled pair reuses them across requests and rounds.
  struct Handle {
    CURL* easy = nullptr;
    CURLM* multi = nullptr;
  };
  Outcome perform(Request& request);
  Outcome perform_once(Request& request, Handle handle);
  CURLcode transfer(Request& request, Handle handle);
  Handle acquire();
  void release(Handle handle);

  Config config_;
  const CurlApi& curl_;
  ClientOptions options_;
  std::mutex pool_mutex_;
  std::vector<Handle> pool_;
};

}  // namespace supervise::s3
