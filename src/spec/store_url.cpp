#include "supervise/spec/store_url.hpp"

#include <cctype>
#include <filesystem>
#include <optional>

#include "supervise/diagnostics.hpp"

namespace supervise::spec {
namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// S3 bucket naming rules: 3-63 characters of a-z 0-9 . -, starting and ending with a
// letter or digit, no "..".
std::optional<std::string> bucket_problem(std::string_view bucket) {
  if (bucket.empty()) return "has no bucket name";
  if (bucket.size() < 3 || bucket.size() > 63) return "has a bucket name that is not 3 to 63 characters long";
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : bucket)
    if (!alnum(c) && c != '.' && c != '-')
      return "has a bucket name with a character other than a-z, 0-9, '.' and '-'";
  if (!alnum(bucket.front()) || !alnum(bucket.back()))
    return "has a bucket name that does not start and end with a letter or digit";
  if (bucket.find("..") != std::string_view::npos) return "has a bucket name with \"..\"";
  return std::nullopt;
}

}  // namespace

std::string redact_url(std::string_view text) {
  std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::string(text);
  std::size_t authority = scheme_end + 3;
  std::size_t path = text.find('/', authority);
  std::size_t at = text.rfind('@', path == std::string_view::npos ? text.size() : path);
  if (at == std::string_view::npos || at < authority) {
    // A password may hold '/' (AWS secret keys do), which ends the authority too early.
    // A ':' before that '/' cannot be part of a bucket name: take it for "user:password"
    // and hide everything up to the last '@'. Showing too little beats leaking a secret.
    std::size_t colon = text.find(':', authority);
    if (colon == std::string_view::npos || colon >= path) return std::string(text);
    at = text.rfind('@');
    if (at == std::string_view::npos || at < colon) return std::string(text);
  }
  return std::string(text.substr(0, authority)) + "***@" + std::string(text.substr(at + 1));
}

Result<StoreUrl> parse_store_url(std::string_view text) {
  std::string shown = quote(redact_url(text));
  StoreUrl url;
  // The file system would cut a path at a NUL byte, and no S3 key holds one.
  if (text.find('\0') != std::string_view::npos) return Error{shown + " holds a NUL byte"};
  if (starts_with_ci(text, "file://")) {
    std::string_view rest = text.substr(7);
    if (rest.empty() || rest.front() != '/')
      return Error{shown + " is not a file:// URL of an absolute directory (file:///dir)"};
    std::string dir = std::filesystem::path(rest).lexically_normal().string();
    // lexically_normal keeps "///" as it is: take every trailing '/' off.
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    url.scheme = StoreUrl::Scheme::kFile;
    url.dir = dir;
    url.text = "file://" + dir;
    return url;
  }
  if (starts_with_ci(text, "s3://")) {
    std::string_view rest = text.substr(5);
    std::size_t slash = rest.find('/');
    std::string_view bucket = rest.substr(0, slash);
    if (auto problem = bucket_problem(bucket)) return Error{shown + " " + *problem};
    std::string prefix;
    if (slash != std::string_view::npos) prefix = std::string(rest.substr(slash + 1));
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
    url.scheme = StoreUrl::Scheme::kS3;
    url.bucket = std::string(bucket);
    url.prefix = prefix;
    url.text = "s3://" + url.bucket + (prefix.empty() ? "" : "/" + prefix);
    return url;
  }
  return Error{shown + " is not a supported store URL (use file:///dir or s3://bucket/prefix)"};
}

}  // namespace supervise::spec
