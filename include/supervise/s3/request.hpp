// The pure parts of talking to S3: object URLs (path-style or virtual-hosted), key and
// query encoding as SigV4 wants it, the XML S3 answers with, part sizes, and which
// failures are worth another try.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "supervise/s3/config.hpp"

namespace supervise::s3 {

// RFC 3986 encoding as S3 expects in a path: A-Z a-z 0-9 - _ . ~ as they are, '/' kept
// between segments, every other byte as %XX (uppercase).
std::string encode_key(std::string_view key);

// Query parameters sorted by name (SigV4 signs them sorted; curl 7.88 does not sort),
// encoded, a valueless one written "name=" ("uploads=").
std::string encode_query(std::vector<std::pair<std::string, std::string>> params);

// The URL of an object: "<endpoint>/<bucket>/<key>" (path-style), "<scheme>://<bucket>.<host>/<key>"
// (an endpoint without path-style: TOS), or
// "https://<bucket>.s3.<region>.amazonaws.com/<key>" for AWS itself (path-style there too
// when the bucket name has a dot, which a wildcard certificate cannot cover).
std::string object_url(const Config& config, const std::string& bucket, const std::string& key);

struct S3Error {
  std::string code;     // "NoSuchBucket", "SlowDown", ...
  std::string message;  // the server's words
};
// <Error><Code>..</Code><Message>..</Message></Error> anywhere in the body.
std::optional<S3Error> parse_error(std::string_view body);
std::optional<std::string> xml_element(std::string_view body, std::string_view name);

// The body of CompleteMultipartUpload for parts 1..n with their ETags (and, when given,
// their CRC-32C checksums in S3's base64 form).
std::string complete_multipart_body(const std::vector<std::string>& etags,
                                    const std::vector<std::string>& checksums = {});

// One page of ListMultipartUploads.
struct UploadList {
  struct Upload {
    std::string key;
    std::string upload_id;
  };
  std::vector<Upload> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};
UploadList parse_upload_list(std::string_view body);

// The ETag S3 gives an object completed from parts with these ETags: the MD5 of the
// parts' MD5s, a dash and the number of parts ("\"9b2cf535f27731c974343645a3985328-3\"",
// quotes included). `md5` gives the 16-byte digest of its input. nullopt when an ETag
// is not a quoted MD5 (an SSE-KMS object's, say).
std::optional<std::string> multipart_etag(const std::vector<std::string>& part_etags,
                                          const std::function<std::string(std::string_view)>& md5);

// How long CompleteMultipartUpload may take for an object of `size` bytes: S3 documents
// that it can take minutes (moto takes ~35 s for 2.5 GiB): 2 minutes and 1 s per 64 MiB.
std::chrono::seconds complete_timeout(std::uint64_t size);

// Part size for a multipart upload of `size` bytes: max(chunk, ceil(size / 10000)), so
// that no upload needs more than S3's 10,000 parts.
std::uint64_t part_size(std::uint64_t size, std::uint64_t chunk = 8ull << 20);

// 429, 500, 502, 503, 504, and the SlowDown / RequestTimeout / InternalError codes.
bool retryable(long http_status, std::string_view code);

}  // namespace supervise::s3
