#include <cerrno>
#include "supervise/s3/config.hpp"

#include <cctype>

#include "supervise/diagnostics.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::s3 {
namespace {

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::optional<std::string> non_empty(const GetEnv& getenv, const std::string& name) {
  auto v = getenv(name);
  if (v && !v->empty()) return v;
  return std::nullopt;
}


// An endpoint URL without its trailing '/'s, or why it is not an http(s) URL (`what`
// names it: "the S3 endpoint", "GS_ENDPOINT_URL"; a "user:password@" is never shown).
std::optional<std::string> set_endpoint(Config& config, const std::string& what, std::string endpoint) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  config.endpoint = endpoint;
  if (endpoint.empty() || endpoint.rfind("http://", 0) == 0 || endpoint.rfind("https://", 0) == 0)
    return std::nullopt;
  // redact_url needs a scheme to find a "user:password@"; without one, hide all before
  // the last '@' all the same.
  std::string shown = spec::redact_url(endpoint);
  if (shown.find("://") == std::string::npos && shown.rfind('@') != std::string::npos)
    shown = "***@" + shown.substr(shown.rfind('@') + 1);
  return what + " " + quote(shown) + " is not an http:// or https:// URL";
}

// The settings every S3-protocol store shares: certificates, part sizes, concurrency,
// checksums.
std::optional<std::string> transfer_settings(Config& config, const GetEnv& getenv) {
  if (auto ca = non_empty(getenv, "AWS_CA_BUNDLE")) config.ca_bundle = *ca;
  if (auto t = non_empty(getenv, "SUPERVISE_S3_MULTIPART_THRESHOLD")) {
    auto threshold = parse_multipart_threshold(*t);
    if (!threshold) return threshold.error();
    config.multipart_threshold = *threshold;
  }
  if (auto t = non_empty(getenv, "SUPERVISE_S3_MULTIPART_CHUNKSIZE")) {
    auto size = parse_size("SUPERVISE_S3_MULTIPART_CHUNKSIZE", *t);
    if (!size) return size.error();
    config.part_size = *size;
  }
  if (auto t = non_empty(getenv, "SUPERVISE_S3_MAX_CONCURRENT_REQUESTS")) {
    char* end = nullptr;
    errno = 0;
    unsigned long n = std::strtoul(t->c_str(), &end, 10);
    if (errno != 0 || end == t->c_str() || *end != '\0' || n < 1 || n > kMaxConcurrentRequests || (*t)[0] == '-')
      return "SUPERVISE_S3_MAX_CONCURRENT_REQUESTS " + quote(*t) + " is not a number from 1 to " +
             std::to_string(kMaxConcurrentRequests);
    config.max_concurrent_requests = static_cast<unsigned>(n);
  }
  // The AWS SDKs' own settings: "when_supported" (their default, and ours) or "when_required".
  for (auto [name, flag] : {std::pair{"AWS_REQUEST_CHECKSUM_CALCULATION", &config.request_checksums},
                            std::pair{"AWS_RESPONSE_CHECKSUM_VALIDATION", &config.response_checksums}}) {
    auto v = non_empty(getenv, name);
    if (!v) continue;
    std::string value = *v;
    for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (value == "when_supported") *flag = true;
    else if (value == "when_required") *flag = false;
    else return std::string(name) + " " + quote(*v) + " is not when_supported or when_required";
  }
  return std::nullopt;
}

// Both keys of a pair of variables, or why not (naming the variables, never a value).
Result<Credentials> key_pair(const GetEnv& getenv, const std::string& store, const std::string& id_name,
                             const std::string& secret_name, const std::string& token_name) {
  auto id = non_empty(getenv, id_name);
  auto secret = non_empty(getenv, secret_name);
  if (id && secret)
    return Credentials{*id, *secret, token_name.empty() ? "" : non_empty(getenv, token_name).value_or(""),
                       "environment"};
  if (id || secret) return Error{(id ? secret_name : id_name) + " is not set (" + (id ? id_name : secret_name) + " is)"};
  return Error{"no " + store + " credentials: " + id_name + " and " + secret_name + " are not set"};
}

}  // namespace

Result<std::uint64_t> parse_multipart_threshold(const std::string& text) {
  return parse_size("SUPERVISE_S3_MULTIPART_THRESHOLD", text);
}

Result<std::uint64_t> parse_size(const std::string& name, const std::string& text, const SizeBounds& bounds) {
  auto bad = [&](const std::string& why) { return Error{name + " " + quote(text) + " " + why}; };
  const std::string too_big = std::string("is above ") + bounds.max_text;
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (n > bounds.max) return bad(too_big);
    n = n * 10 + static_cast<std::uint64_t>(text[i++] - '0');
  }
  if (i == 0) return bad("is not a size (bytes, or a number with K, M or G: 64MiB, 2GiB)");
  std::string unit = text.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = -1;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kb" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") shift = 30;
  if (shift < 0) return bad("is not a size (bytes, or a number with K, M or G: 64MiB, 2GiB)");
  if (n > (bounds.max >> shift)) return bad(too_big);
  n <<= shift;
  if (n < bounds.min) return bad(std::string("is below ") + bounds.min_text);
  return n;
}

std::optional<Credentials> parse_credentials_file(const std::string& text, const std::string& profile) {
  Credentials c;
  bool in_profile = false, found = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      std::string name = trim(line.substr(1, line.size() - 2));
      // ~/.aws/config writes "[profile x]"; credentials files write "[x]". Accept both.
      if (name.rfind("profile ", 0) == 0) name = trim(name.substr(8));
      in_profile = name == profile;
      found = found || in_profile;
      continue;
    }
    if (!in_profile) continue;
    std::size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (key == "aws_access_key_id") c.access_key_id = value;
    else if (key == "aws_secret_access_key") c.secret_access_key = value;
    else if (key == "aws_session_token") c.session_token = value;
  }
  if (!found) return std::nullopt;
  return c;
}

Result<Config> resolve_config(const GetEnv& getenv, const ReadFile& read_file) {
  Config config;
  auto key = non_empty(getenv, "AWS_ACCESS_KEY_ID");
  auto secret = non_empty(getenv, "AWS_SECRET_ACCESS_KEY");
  if (key && secret) {
    config.credentials = {*key, *secret, non_empty(getenv, "AWS_SESSION_TOKEN").value_or(""), "environment"};
  } else if (key || secret) {
    return Error{std::string(key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
                 " is not set (the other one is): set both, or neither to use the credentials file"};
  } else {
    std::string path;
    if (auto p = non_empty(getenv, "AWS_SHARED_CREDENTIALS_FILE")) {
      path = *p;
      // As the AWS tools do (expanduser): "~/x" is in HOME.
      auto home = non_empty(getenv, "HOME");
      if (home && (path == "~" || path.rfind("~/", 0) == 0)) path = *home + path.substr(1);
    } else if (auto home = non_empty(getenv, "HOME")) path = *home + "/.aws/credentials";
    std::string profile = non_empty(getenv, "AWS_PROFILE").value_or("default");
    std::optional<std::string> text = path.empty() ? std::nullopt : read_file(path);
    if (!text)
      return Error{"no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set and " +
                   (path.empty() ? std::string("there is no HOME for ~/.aws/credentials")
                                 : path + " cannot be read")};
    auto creds = parse_credentials_file(*text, profile);
    if (!creds) return Error{"no S3 credentials: " + path + " has no profile [" + profile + "]"};
    if (creds->access_key_id.empty() || creds->secret_access_key.empty())
      return Error{"no S3 credentials: profile [" + profile + "] of " + path +
                   " lacks aws_access_key_id or aws_secret_access_key"};
    creds->source = path + " [" + profile + "]";
    config.credentials = *creds;
  }
  if (auto r = non_empty(getenv, "AWS_REGION")) config.region = *r;
  else if (auto d = non_empty(getenv, "AWS_DEFAULT_REGION")) config.region = *d;
  if (auto e = non_empty(getenv, "AWS_ENDPOINT_URL_S3")) config.endpoint = *e;
  else if (auto g = non_empty(getenv, "AWS_ENDPOINT_URL")) config.endpoint = *g;
  if (auto bad = set_endpoint(config, "the S3 endpoint", config.endpoint)) return Error{*bad};
  config.path_style = !config.endpoint.empty();
  if (auto bad = transfer_settings(config, getenv)) return Error{*bad};
  return config;
}

}  // namespace supervise::s3

namespace supervise::s3 {

Result<Config> resolve_store_config(const spec::StoreUrl& url, const GetEnv& getenv, const ReadFile& read_file) {
  using Scheme = spec::StoreUrl::Scheme;
  if (url.scheme == Scheme::kS3) return resolve_config(getenv, read_file);
  Config config;
  config.path_style = true;
  std::string override_name;
  switch (url.scheme) {
    case Scheme::kGs: {
      auto creds = key_pair(getenv, "Cloud Storage", "GS_ACCESS_KEY_ID", "GS_SECRET_ACCESS_KEY", "");
      if (!creds) return Error{creds.error() + " (Cloud Storage HMAC keys)"};
      config.credentials = *creds;
      config.region = "auto";
      config.endpoint = "https://storage.googleapis.com";
      config.display_root = "gs://";
      config.checksum_headers = Config::ChecksumHeaders::kGoog;
      override_name = "GS_ENDPOINT_URL";
      break;
    }
    case Scheme::kTos: {
      auto creds = key_pair(getenv, "TOS", "TOS_ACCESS_KEY", "TOS_SECRET_KEY", "TOS_SECURITY_TOKEN");
      if (!creds) return Error{creds.error()};
      config.credentials = *creds;
      // As OSMO derives it: the endpoint is tos-s3-<region>.<domain>.
      constexpr std::string_view kTosS3 = "tos-s3-";
      if (url.endpoint.rfind(kTosS3, 0) == 0) {
        config.region = url.endpoint.substr(kTosS3.size(), url.endpoint.find('.') - kTosS3.size());
      } else if (auto r = non_empty(getenv, "TOS_REGION")) {
        config.region = *r;
      } else {
        return Error{"cannot tell the region of tos://" + url.endpoint +
                     ": its endpoint is not tos-s3-<region>.<domain>; set TOS_REGION"};
      }
      config.endpoint = "https://" + url.endpoint;
      config.path_style = false;  // https://<bucket>.<endpoint>, as OSMO addresses it
      config.display_root = "tos://" + url.endpoint + "/";
      override_name = "TOS_ENDPOINT_URL";
      break;
    }
    case Scheme::kSwift: {
      auto creds = key_pair(getenv, "Swift", "SWIFT_ACCESS_KEY_ID", "SWIFT_SECRET_ACCESS_KEY", "");
      if (!creds) return Error{creds.error()};
      config.credentials = *creds;
      config.region = non_empty(getenv, "SWIFT_REGION").value_or("us-east-1");
      config.endpoint = "https://" + url.endpoint;
      config.display_root = "swift://" + url.endpoint + "/" + url.account + "/";
      override_name = "SWIFT_ENDPOINT_URL";
      break;
    }
    default:
      return Error{"not a store of the S3 protocol: " + url.text};
  }
  if (auto e = non_empty(getenv, override_name))
    if (auto bad = set_endpoint(config, override_name, *e)) return Error{*bad};
  // The defaults here; the variables may still turn them on (tos, swift) or off.
  config.request_checksums = url.scheme == Scheme::kGs;
  config.response_checksums = false;
  if (auto bad = transfer_settings(config, getenv)) return Error{*bad};
  if (url.scheme == Scheme::kGs) config.response_checksums = false;  // x-amz-checksum-mode is S3's
  return config;
}

}  // namespace supervise::s3
