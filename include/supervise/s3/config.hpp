// S3 configuration the way the AWS tools read it: credentials from AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE or "default");
// region from AWS_REGION / AWS_DEFAULT_REGION (us-east-1); endpoint from
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL with path-style addressing, AWS itself with
// virtual-hosted style; AWS_CA_BUNDLE for the certificates to trust;
// SUPERVISE_S3_MULTIPART_THRESHOLD for the size above which uploads go in parts. Pure: the environment and the file's text are passed in.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "supervise/result.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::s3 {

inline constexpr std::uint64_t kDefaultMultipartThreshold = 64ull << 20;
inline constexpr std::uint64_t kDefaultPartSize = 8ull << 20;
inline constexpr unsigned kDefaultConcurrentRequests = 8;
inline constexpr unsigned kMaxConcurrentRequests = 256;
inline constexpr std::uint64_t kMaxSinglePut = 5ull << 30;  // S3's limit for one PutObject
inline constexpr std::uint64_t kMinPartSize = 5ull << 20;   // S3's smallest part (not the last)

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty without one
  std::string source;         // "environment" or "/root/.aws/credentials [profile]": for logs
};

struct Config {
  Credentials credentials;
  std::string region = "us-east-1";
  std::string endpoint;  // "http://127.0.0.1:9000"; empty for AWS itself
  // With an endpoint: "<endpoint>/<bucket>/<key>" (true), or "<scheme>://<bucket>.<host>/<key>"
  // (false: Volcengine TOS).
  bool path_style = false;
  // How objects are named in messages and logs: display_root + bucket + "/" + key
  // ("s3://", "gs://", "tos://<endpoint>/", "swift://<endpoint>/<account>/").
  std::string display_root = "s3://";
  // The checksum headers the server takes: S3's x-amz-checksum-crc32c (and the algorithm
  // on multipart uploads, per-part checksums in the Complete body, x-amz-checksum-mode on
  // GET), or Cloud Storage's x-goog-hash: crc32c=... on each body (no others).
  enum class ChecksumHeaders { kAmz, kGoog };
  ChecksumHeaders checksum_headers = ChecksumHeaders::kAmz;
  std::string ca_bundle;  // AWS_CA_BUNDLE: certificates to trust instead of the system's
  // SUPERVISE_S3_MULTIPART_THRESHOLD: files larger than this go up in parts
  std::uint64_t multipart_threshold = kDefaultMultipartThreshold;
  // SUPERVISE_S3_MULTIPART_CHUNKSIZE: the size of a part (more for a file above 10,000 parts)
  std::uint64_t part_size = kDefaultPartSize;
  // SUPERVISE_S3_MAX_CONCURRENT_REQUESTS: parts (and small files read whole) in flight
  // at once, shared by all files of a round or restore; memory is bounded by this many
  // parts.
  unsigned max_concurrent_requests = kDefaultConcurrentRequests;
  // AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION: when_supported
  // (true) or when_required (false).
  bool request_checksums = true;
  bool response_checksums = true;
};

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;
using ReadFile = std::function<std::optional<std::string>(const std::string& path)>;

// Everything needed to talk to S3, or an error saying what is missing and where it was
// looked for (never a secret).
Result<Config> resolve_config(const GetEnv& getenv, const ReadFile& read_file);

// The same for any store of the S3 protocol, by the URL's scheme (README, "Stores"):
//  s3://     resolve_config above.
//  gs://     GS_ACCESS_KEY_ID + GS_SECRET_ACCESS_KEY (HMAC keys); endpoint
//            https://storage.googleapis.com or GS_ENDPOINT_URL, path-style; region "auto";
//            x-goog-hash checksums.
//  tos://    TOS_ACCESS_KEY + TOS_SECRET_KEY (+ TOS_SECURITY_TOKEN), Volcengine's SDK names;
//            https://<bucket>.<endpoint> (virtual-hosted; TOS_ENDPOINT_URL replaces
//            https://<endpoint>); region from a tos-s3-<region>.* endpoint, else TOS_REGION.
//  swift://  SWIFT_ACCESS_KEY_ID + SWIFT_SECRET_ACCESS_KEY; https://<endpoint>/<bucket>
//            (path-style; SWIFT_ENDPOINT_URL replaces https://<endpoint>); region
//            SWIFT_REGION or us-east-1.
// tos:// and swift:// send no checksum headers unless AWS_REQUEST_CHECKSUM_CALCULATION=
// when_supported asks (their S3 layers do not all know them); the transfer settings
// (SUPERVISE_S3_*, AWS_CA_BUNDLE) apply to all.
Result<Config> resolve_store_config(const spec::StoreUrl& url, const GetEnv& getenv, const ReadFile& read_file);

// "64MiB", "2GiB", "8388608": a size in bytes with an optional binary suffix (K, KB,
// KiB, M, MB, MiB, G, GB, GiB: all powers of 1024, as the AWS CLI reads them). Bounded
// by 5 MiB (S3's smallest part) and 5 GiB (its largest single PutObject).
Result<std::uint64_t> parse_multipart_threshold(const std::string& text);
// The bounds of a size variable, and why each is one (for the error).
struct SizeBounds {
  std::uint64_t min = kMinPartSize;
  std::uint64_t max = kMaxSinglePut;
  const char* min_text = "5MiB, S3's smallest part";
  const char* max_text = "5GiB, S3's largest single upload";
};
// The same rules for any size variable, named `name` in its error.
Result<std::uint64_t> parse_size(const std::string& name, const std::string& text, const SizeBounds& bounds = {});

// Parses an INI credentials file and returns the keys of `profile` (nullopt if absent).
std::optional<Credentials> parse_credentials_file(const std::string& text, const std::string& profile);

}  // namespace supervise::s3
