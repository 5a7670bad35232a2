// A small S3 client over libcurl with its built-in SigV4 signing: PutObject (streamed
// from a file or from memory), multipart upload with abort on failure, GetObject (for
// tests and tools). Each request is retried with exponential backoff and full jitter on
// throttling, server errors and connection errors; a stalled connection is cut by
// low-speed limits. Easy handles are pooled, so connections are reused. Thread-safe.
// No error message or log line ever holds a key, token or signature.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "supervise/s3/config.hpp"
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
  std::string error;       // "PUT s3://b/k: 503 SlowDown: Please reduce your request rate"
  std::string body;        // the response body (GET), capped
  std::string etag;
};

// Produces a request body: fills up to `size` bytes, returns how many (0 at the end,
// -1 to abort the transfer). `rewind()` starts over for a retry; false if it cannot.
struct BodySource {
  std::function<long(char* buffer, std::size_t size)> read;
  std::function<bool()> rewind;
  std::uint64_t size = 0;
};

// A body read from memory; `data` must outlive the request.
BodySource memory_body(std::string_view data);

class Client {
 public:
  Client(Config config, const CurlApi& curl, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const { return config_; }
  const ClientOptions& options() const { return options_; }

  Outcome put_object(const std::string& bucket, const std::string& key, BodySource body);
  Outcome get_object(const std::string& bucket, const std::string& key);
  // Multipart: create, upload parts 1..n, complete; abort on any failure.
  Outcome create_multipart(const std::string& bucket, const std::string& key, std::string& upload_id);
  Outcome upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id, int part,
                      BodySource body);
  Outcome complete_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                             const std::vector<std::string>& etags);
  Outcome abort_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id);

 private:
  struct Request;
  Outcome perform(Request& request);
  Outcome perform_once(Request& request, CURL* handle);
  CURL* acquire();
  void release(CURL* handle);

  Config config_;
  const CurlApi& curl_;
  ClientOptions options_;
  std::mutex pool_mutex_;
  std::vector<CURL*> pool_;
};

}  // namespace supervise::s3
