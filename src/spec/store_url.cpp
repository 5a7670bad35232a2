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

// Cloud Storage: 3-63 characters (222 with dots) of a-z 0-9 - _ ., starting and ending
// with a letter or digit.
std::optional<std::string> gcs_bucket_problem(std::string_view bucket) {
  if (bucket.empty()) return "has no bucket name";
  bool dotted = bucket.find('.') != std::string_view::npos;
  if (bucket.size() < 3 || bucket.size() > (dotted ? 222u : 63u))
    return "has a bucket name that is not 3 to 63 characters long (222 with dots)";
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : bucket)
    if (!alnum(c) && c != '.' && c != '-' && c != '_')
      return "has a bucket name with a character other than a-z, 0-9, '.', '-' and '_'";
  if (!alnum(bucket.front()) || !alnum(bucket.back()))
    return "has a bucket name that does not start and end with a letter or digit";
  return std::nullopt;
}

// Azure: an account is 3-24 lowercase letters and digits; a container 3-63 of a-z 0-9 -,
// starting and ending with a letter or digit, no "--".
std::optional<std::string> azure_account_problem(std::string_view account) {
  if (account.empty()) return "has no storage account";
  if (account.size() < 3 || account.size() > 24) return "has a storage account name that is not 3 to 24 characters long";
  for (char c : account)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return "has a storage account name with a character other than a-z and 0-9";
  return std::nullopt;
}

std::optional<std::string> container_problem(std::string_view container) {
  if (container.empty()) return "has no container name";
  if (container.size() < 3 || container.size() > 63)
    return "has a container name that is not 3 to 63 characters long";
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : container)
    if (!alnum(c) && c != '-') return "has a container name with a character other than a-z, 0-9 and '-'";
  if (!alnum(container.front()) || !alnum(container.back()))
    return "has a container name that does not start and end with a letter or digit";
  if (container.find("--") != std::string_view::npos) return "has a container name with \"--\"";
  return std::nullopt;
}

// host[:port]: letters, digits, '-', '.', and a numeric port; no user information.
std::optional<std::string> endpoint_problem(std::string_view endpoint) {
  if (endpoint.empty()) return "has no endpoint";
  std::size_t colon = endpoint.rfind(':');
  std::string_view host = endpoint.substr(0, colon);
  if (host.empty()) return "has an endpoint with no host";
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
      return "has an endpoint that is not a host name (letters, digits, '-' and '.'), with an optional :port";
  if (colon != std::string_view::npos) {
    std::string_view port = endpoint.substr(colon + 1);
    if (port.empty() || port.size() > 5) return "has an endpoint whose port is not a number from 1 to 65535";
    unsigned n = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return "has an endpoint whose port is not a number from 1 to 65535";
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n == 0 || n > 65535) return "has an endpoint whose port is not a number from 1 to 65535";
  }
  return std::nullopt;
}

// OSMO's URI component: anything but '/', ',', ';', '*'; and no '@', ':' or space here.
std::optional<std::string> swift_account_problem(std::string_view account) {
  if (account.empty()) return "has no account";
  for (char c : account)
    if (c == ',' || c == ';' || c == '*' || c == '@' || c == ':' || c == '?' || c == '#' ||
        static_cast<unsigned char>(c) <= ' ')
      return "has an account with a character that cannot be in one (',', ';', '*', '@', ':', '?', '#' or a space)";
  return std::nullopt;
}

}  // namespace

std::string StoreUrl::root() const {
  switch (scheme) {
    case Scheme::kFile: return "";
    case Scheme::kS3: return "s3://" + bucket;
    case Scheme::kGs: return "gs://" + bucket;
    case Scheme::kAzure: return "azure://" + account + "/" + bucket;
    case Scheme::kTos: return "tos://" + endpoint + "/" + bucket;
    case Scheme::kSwift: return "swift://" + endpoint + "/" + account + "/" + bucket;
  }
  return "";
}

std::string_view StoreUrl::scheme_name() const {
  switch (scheme) {
    case Scheme::kFile: return "file";
    case Scheme::kS3: return "s3";
    case Scheme::kGs: return "gs";
    case Scheme::kAzure: return "azure";
    case Scheme::kTos: return "tos";
    case Scheme::kSwift: return "swift";
  }
  return "";
}

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
  struct Form {
    std::string_view prefix;
    StoreUrl::Scheme scheme;
    std::string_view form;  // for messages
  };
  static constexpr Form kForms[] = {
      {"s3://", StoreUrl::Scheme::kS3, "s3://bucket/prefix"},
      {"gs://", StoreUrl::Scheme::kGs, "gs://bucket/prefix"},
      {"azure://", StoreUrl::Scheme::kAzure, "azure://account/container/prefix"},
      {"tos://", StoreUrl::Scheme::kTos, "tos://endpoint/bucket/prefix"},
      {"swift://", StoreUrl::Scheme::kSwift, "swift://endpoint/account/bucket/prefix"},
  };
  for (const Form& form : kForms) {
    if (!starts_with_ci(text, form.prefix)) continue;
    url.scheme = form.scheme;
    std::string_view rest = text.substr(form.prefix.size());
    // The leading components the form names, then the prefix.
    auto next = [&rest]() {
      std::size_t slash = rest.find('/');
      std::string_view part = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
      return part;
    };
    // The form is named where it has more than a bucket (an s3:// URL's error is as it was).
    auto bad = [&](const std::string& why) {
      if (form.scheme == StoreUrl::Scheme::kS3) return Error{shown + " " + why};
      return Error{shown + " " + why + " (the form is " + std::string(form.form) + ")"};
    };
    switch (form.scheme) {
      case StoreUrl::Scheme::kTos:
      case StoreUrl::Scheme::kSwift: {
        std::string_view endpoint = next();
        if (auto problem = endpoint_problem(endpoint)) return bad(*problem);
        url.endpoint = std::string(endpoint);
        if (form.scheme == StoreUrl::Scheme::kSwift) {
          std::string_view account = next();
          if (auto problem = swift_account_problem(account)) return bad(*problem);
          url.account = std::string(account);
        }
        break;
      }
      case StoreUrl::Scheme::kAzure: {
        std::string_view account = next();
        if (auto problem = azure_account_problem(account)) return bad(*problem);
        url.account = std::string(account);
        break;
      }
      default:
        break;
    }
    std::string_view bucket = next();
    auto problem = form.scheme == StoreUrl::Scheme::kAzure ? container_problem(bucket)
                   : form.scheme == StoreUrl::Scheme::kGs  ? gcs_bucket_problem(bucket)
                                                           : bucket_problem(bucket);
    if (problem) return bad(*problem);
    url.bucket = std::string(bucket);
    std::string prefix(rest);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
    url.prefix = prefix;
    url.text = url.root() + (prefix.empty() ? "" : "/" + prefix);
    return url;
  }
  return Error{shown + " is not a supported store URL (use file:///dir, s3://bucket/prefix, gs://bucket/prefix, "
               "azure://account/container/prefix, tos://endpoint/bucket/prefix or "
               "swift://endpoint/account/bucket/prefix)"};
}

}  // namespace supervise::spec
