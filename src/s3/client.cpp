#include "supervise/s3/client.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

#include "supervise/s3/request.hpp"

namespace supervise::s3 {
namespace {

std::string display(const Config& config, const std::string& bucket, const std::string& key) {
  return config.display_root + bucket + "/" + key;
}

// GetObject reads a manifest: about 105 bytes per file, so millions of files fit (the
// file:// store allows the same).
constexpr std::size_t kMaxObject = std::size_t{1} << 30;

// The checksum headers of a PutObject or UploadPart, as the AWS SDKs send them: the
// value, and the algorithm (which makes S3, and moto, keep it with the object); or
// Cloud Storage's own header, the only one it takes.
void add_checksum(std::vector<std::string>& headers, const std::string& checksum, const Config& config) {
  if (checksum.empty()) return;
  if (config.checksum_headers == Config::ChecksumHeaders::kGoog) {
    headers.push_back("x-goog-hash: crc32c=" + checksum);
    return;
  }
  headers.push_back("x-amz-checksum-crc32c: " + checksum);
  headers.push_back("x-amz-sdk-checksum-algorithm: CRC32C");
}

}  // namespace

Client::Client(Config config, const CurlApi& curl, ClientOptions options)
    : config_(std::move(config)), transport_(curl, options, config_.ca_bundle) {}

Call Client::call(std::string method, const std::string& bucket, const std::string& key, const std::string& query,
                  BodySource body, std::string content_type, Interrupt interrupt) const {
  Call c;
  c.what = method + " " + display(config_, bucket, key);
  c.url = object_url(config_, bucket, key) + (query.empty() ? "" : "?" + query);
  c.method = std::move(method);
  c.body = std::move(body);
  c.content_type = std::move(content_type);
  c.interrupt = interrupt;
  c.checksum_header = "x-amz-checksum-crc32c";
  // curl 7.88 signs with SigV4 what is there; the headers it does not add by itself: the
  // payload hash header must always be present; the session token is ours to add.
  c.sign = [this](CURL* h, std::vector<std::string>& headers) {
    std::vector<std::string> first = {"x-amz-content-sha256: UNSIGNED-PAYLOAD"};
    if (!config_.credentials.session_token.empty())
      first.push_back("x-amz-security-token: " + config_.credentials.session_token);
    headers.insert(headers.begin(), first.begin(), first.end());
    const std::string sigv4 = "aws:amz:" + config_.region + ":s3";
    auto set = transport_.curl().easy_setopt;
    set(h, CURLOPT_AWS_SIGV4, sigv4.c_str());  // copied by curl
    set(h, CURLOPT_USERNAME, config_.credentials.access_key_id.c_str());
    set(h, CURLOPT_PASSWORD, config_.credentials.secret_access_key.c_str());
  };
  return c;
}

Outcome Client::put_object(const std::string& bucket, const std::string& key, BodySource body, Interrupt interrupt,
                           const std::string& checksum) {
  Call r = call("PUT", bucket, key, "", std::move(body), "", interrupt);
  add_checksum(r.headers, checksum, config_);
  return transport_.perform(r);
}

Outcome Client::get_object(const std::string& bucket, const std::string& key, Interrupt interrupt) {
  Call r = call("GET", bucket, key, "", {}, "", interrupt);
  r.max_response = kMaxObject;
  return transport_.perform(r);
}

Outcome Client::get_object_to(const std::string& bucket, const std::string& key, BodySink sink,
                              Interrupt interrupt, std::optional<ByteRange> range) {
  Call r = call("GET", bucket, key, "", {}, "", interrupt);
  r.sink = std::move(sink);
  if (range) {
    r.headers.push_back("Range: bytes=" + std::to_string(range->first) + "-" + std::to_string(range->last));
    if (!range->if_match.empty()) r.headers.push_back("If-Match: " + range->if_match);
  } else if (config_.response_checksums) {
    // The object's own checksum comes back with it (S3 sends none for a range).
    r.headers.push_back("x-amz-checksum-mode: ENABLED");
  }
  return transport_.perform(r);
}

Outcome Client::head_object(const std::string& bucket, const std::string& key, Interrupt interrupt) {
  Call r = call("HEAD", bucket, key, "", {}, "", interrupt);
  return transport_.perform(r);
}

Outcome Client::create_multipart(const std::string& bucket, const std::string& key, std::string& upload_id,
                                 Interrupt interrupt, bool checksums) {
  static const std::string empty;
  // The Content-Type of CreateMultipartUpload becomes the object's: without one, curl's
  // POST default (application/x-www-form-urlencoded) would. Use S3's own default.
  Call r = call("POST", bucket, key, encode_query({{"uploads", ""}}), memory_body(empty), "binary/octet-stream",
            interrupt);
  if (checksums && config_.checksum_headers == Config::ChecksumHeaders::kAmz)
    r.headers.push_back("x-amz-checksum-algorithm: CRC32C");
  Outcome out = transport_.perform(r);
  if (out.ok) {
    upload_id = xml_element(out.body, "UploadId").value_or("");
    if (upload_id.empty()) {
      out.ok = false;
      out.error = "POST " + display(config_, bucket, key) + "?uploads: no UploadId in the answer";
    }
  }
  return out;
}

Outcome Client::upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                            int part, BodySource body, Interrupt interrupt, const std::string& checksum) {
  Call r = call("PUT", bucket, key, encode_query({{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}),
            std::move(body), "", interrupt);
  add_checksum(r.headers, checksum, config_);
  return transport_.perform(r);
}

Outcome Client::complete_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                   const std::vector<std::string>& etags, std::uint64_t size, Interrupt interrupt,
                                   const std::vector<std::string>& checksums) {
  std::string xml = complete_multipart_body(etags, checksums);
  Call r = call("POST", bucket, key, encode_query({{"uploadId", upload_id}}), memory_body(xml), "application/xml",
            interrupt);
  r.low_speed_limit = false;
  r.timeout = complete_timeout(size);
  return transport_.perform(r);
}

Outcome Client::abort_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                Interrupt interrupt) {
  Call r = call("DELETE", bucket, key, encode_query({{"uploadId", upload_id}}), {}, "", interrupt);
  return transport_.perform(r);
}

Outcome Client::list_multipart_uploads(const std::string& bucket, const std::string& prefix,
                                       std::vector<UploadList::Upload>& uploads, Interrupt interrupt) {
  std::string key_marker, id_marker;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> query = {{"uploads", ""}, {"prefix", prefix}};
    if (!key_marker.empty()) query.push_back({"key-marker", key_marker});
    if (!id_marker.empty()) query.push_back({"upload-id-marker", id_marker});
    // The bucket itself is the resource: an empty key.
    Call r = call("GET", bucket, "", encode_query(query), {}, "", interrupt);
    Outcome out = transport_.perform(r);
    if (!out.ok) return out;
    UploadList page = parse_upload_list(out.body);
    uploads.insert(uploads.end(), page.uploads.begin(), page.uploads.end());
    if (!page.truncated || (page.next_key_marker.empty() && page.next_upload_id_marker.empty())) return out;
    key_marker = page.next_key_marker;
    id_marker = page.next_upload_id_marker;
  }
}

}  // namespace supervise::s3
