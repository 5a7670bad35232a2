#include "supervise/s3/request.hpp"

#include <algorithm>
#include <cstdio>

namespace supervise::s3 {
namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

std::string encode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (unsigned char c : text) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string unescape_xml(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    static const std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool matched = false;
    for (const auto& [entity, ch] : kEntities) {
      if (s.substr(i, entity.size()) == entity) {
        out += ch;
        i += entity.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out += '&';
  }
  return out;
}

}  // namespace

std::string encode_key(std::string_view key) { return encode(key, /*keep_slash=*/true); }

std::string encode_query(std::vector<std::pair<std::string, std::string>> params) {
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += encode(name, false) + "=" + encode(value, false);
  }
  return out;
}

std::string object_url(const Config& config, const std::string& bucket, const std::string& key) {
  std::string path = encode_key(key);
  if (!config.endpoint.empty()) return config.endpoint + "/" + bucket + "/" + path;
  if (bucket.find('.') != std::string::npos)
    return "https://s3." + config.region + ".amazonaws.com/" + bucket + "/" + path;
  return "https://" + bucket + ".s3." + config.region + ".amazonaws.com/" + path;
}

std::optional<std::string> xml_element(std::string_view body, std::string_view name) {
  std::string open = "<" + std::string(name) + ">";
  std::string close = "</" + std::string(name) + ">";
  std::size_t b = body.find(open);
  if (b == std::string_view::npos) return std::nullopt;
  b += open.size();
  std::size_t e = body.find(close, b);
  if (e == std::string_view::npos) return std::nullopt;
  return unescape_xml(body.substr(b, e - b));
}

std::optional<S3Error> parse_error(std::string_view body) {
  std::size_t at = body.find("<Error>");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view error = body.substr(at);
  S3Error e;
  e.code = xml_element(error, "Code").value_or("");
  e.message = xml_element(error, "Message").value_or("");
  if (e.code.empty() && e.message.empty()) return std::nullopt;
  return e;
}

std::string complete_multipart_body(const std::vector<std::string>& etags) {
  std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (std::size_t i = 0; i < etags.size(); ++i) {
    std::string etag;
    for (char c : etags[i]) {  // ETags come quoted: keep them so, escaped for XML
      if (c == '"') etag += "&quot;";
      else if (c == '&') etag += "&amp;";
      else if (c == '<') etag += "&lt;";
      else etag += c;
    }
    out += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
  }
  return out + "</CompleteMultipartUpload>";
}

std::uint64_t part_size(std::uint64_t size) {
  constexpr std::uint64_t kMin = 8ull << 20;
  return std::max<std::uint64_t>(kMin, (size + 9999) / 10000);
}

bool retryable(long http_status, std::string_view code) {
  if (http_status == 429 || http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504)
    return true;
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" ||
         code == "ServiceUnavailable";
}

}  // namespace supervise::s3
