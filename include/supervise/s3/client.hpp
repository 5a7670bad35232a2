// A small S3 client over libcurl with its built-in SigV4 signing: PutObject (streamed
// from a file or from memory), multipart upload (create, parts, complete, abort, list),
// GetObject and HeadObject. Each request is retried with exponential backoff and full
// jitter on throttling, server errors and connection errors; a stalled connection is
// cut by low-speed limits; a cancel or a store found down cuts a request at once.
// Requests go through the HTTP engine the Azure store shares (transport.hpp).
// Thread-safe. No error message or log line ever holds a key, token or signature.
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
#include "supervise/s3/transport.hpp"

namespace supervise::s3 {

class Client {
 public:
  Client(Config config, const CurlApi& curl, ClientOptions options = {});
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const { return config_; }
  const ClientOptions& options() const { return transport_.options(); }
  const CurlApi& curl() const { return transport_.curl(); }

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
  // A request to bucket/key (?query), signed with SigV4.
  Call call(std::string method, const std::string& bucket, const std::string& key, const std::string& query = "",
            BodySource body = {}, std::string content_type = "", Interrupt interrupt = {}) const;

  Config config_;
  Transport transport_;
};

}  // namespace supervise::s3
