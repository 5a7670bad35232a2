// The pure parts of talking to Azure Blob Storage: blob URLs (Azure's
// https://<account>.blob.core.windows.net/<container>/<blob>, or an endpoint with a path
// such as Azurite's http://127.0.0.1:10000/devstoreaccount1), the SharedKey string to
// sign and its signature, block ids, the Put Block List body, and which failures are
// worth another try.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace supervise::azure {

// The REST API version every request names (x-ms-version): the one the requests below
// are written and tested against (SharedKey string-to-sign of 2015-02-21 on, blocks of
// up to 4000 MiB from 2019-12-12). Azurite refuses versions newer than it knows unless
// started with --skipApiVersionCheck.
inline constexpr const char* kApiVersion = "2021-08-06";

using Params = std::vector<std::pair<std::string, std::string>>;

// "<endpoint>/<container>/<blob>" with the blob name encoded as a path ('/' kept), and
// "?<query>" when `query` is not empty.
std::string blob_url(const std::string& endpoint, const std::string& container,
                     const std::string& blob, const std::string& query = "");

// The path of a URL ("/devstoreaccount1/c/b" of "http://127.0.0.1:10000/devstoreaccount1/c/b?x"),
// "/" when it has none.
std::string url_path(std::string_view url);

// What SharedKey signs ("Authorize with Shared Key", version 2009-09-19 and later):
// VERB, Content-Encoding, Content-Language, Content-Length (empty when 0),
// Content-MD5, Content-Type, Date, If-Modified-Since, If-Match, If-None-Match,
// If-Unmodified-Since, Range, each on a line; then the x-ms- headers (lowercase names,
// sorted, "name:value"), each on a line; then the resource: "/<account><path>" and the
// query parameters (lowercase names, sorted, decoded values) as "\nname:value".
// `headers` are the request's, "Name: value".
struct SignedRequest {
  std::string method;
  std::uint64_t content_length = 0;
  std::vector<std::string> headers;
  std::string account;
  std::string path;  // as sent (encoded): url_path(url)
  Params params;     // decoded
};
std::string string_to_sign(const SignedRequest& request);

// The Authorization header's value: "SharedKey <account>:<base64 of HMAC-SHA256(key,
// string)>". `hmac` gives the 32-byte HMAC-SHA256 of its second argument under the
// first ("" when it cannot).
using Hmac = std::function<std::string(std::string_view key, std::string_view data)>;
std::string shared_key(const std::string& account, std::string_view key,
                       const std::string& string_to_sign, const Hmac& hmac);

// An HTTP date (RFC 1123, GMT): "Sun, 06 Dec 2026 06:07:41 GMT", for x-ms-date.
std::string http_date(std::time_t when);

// Block `index` of one upload attempt (`nonce`: 16 characters unique to that attempt):
// base64 of "<nonce>-<index, 7 digits>", 24 bytes, so every id of a blob has the same
// length (Azure's rule) and no id of an earlier attempt is used again.
std::string block_id(const std::string& nonce, std::size_t index);
// 16 random hex digits.
std::string block_nonce();

// The body of Put Block List: the blocks in order, each as the latest version uploaded.
std::string block_list_body(const std::vector<std::string>& ids);

// 408, 429, 500, 502, 503, 504, and the ServerBusy / OperationTimedOut / InternalError codes.
bool retryable(long http_status, std::string_view code);

}  // namespace supervise::azure
