#include "supervise/s3/request.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>

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

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// "&#38;" / "&#x26;" at the start of `s`: the code point and the reference's length.
std::optional<std::pair<std::uint32_t, std::size_t>> char_reference(std::string_view s) {
  if (s.size() < 4 || s[0] != '&' || s[1] != '#') return std::nullopt;
  bool hex = s[2] == 'x' || s[2] == 'X';
  std::size_t i = hex ? 3 : 2, digits = 0;
  std::uint32_t cp = 0;
  for (; i < s.size() && s[i] != ';'; ++i, ++digits) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0'
            : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
            : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
    if (d < 0 || digits >= 8) return std::nullopt;
    cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
  }
  if (i >= s.size() || digits == 0 || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return std::make_pair(cp, i + 1);
}

std::string unescape_xml(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    // Numeric character references: S3 writes control characters in keys that way.
    if (auto ref = char_reference(s.substr(i))) {
      append_utf8(out, ref->first);
      i += ref->second - 1;
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
  // SigV4 sorts the encoded names (and values): encode first, then sort.
  for (auto& [name, value] : params) {
    name = encode(name, false);
    value = encode(value, false);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string object_url(const Config& config, const std::string& bucket, const std::string& key) {
  std::string path = encode_key(key);
  if (!config.endpoint.empty() && config.path_style) return config.endpoint + "/" + bucket + "/" + path;
  if (!config.endpoint.empty()) {  // virtual-hosted at the endpoint: scheme://bucket.host/key
    std::size_t host = config.endpoint.find("://");
    host = host == std::string::npos ? 0 : host + 3;
    return config.endpoint.substr(0, host) + bucket + "." + config.endpoint.substr(host) + "/" + path;
  }
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

std::string complete_multipart_body(const std::vector<std::string>& etags, const std::vector<std::string>& checksums) {
  std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (std::size_t i = 0; i < etags.size(); ++i) {
    std::string etag;
    for (char c : etags[i]) {  // ETags come quoted: keep them so, escaped for XML
      if (c == '"') etag += "&quot;";
      else if (c == '&') etag += "&amp;";
      else if (c == '<') etag += "&lt;";
      else etag += c;
    }
    out += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etag + "</ETag>";
    if (i < checksums.size()) out += "<ChecksumCRC32C>" + checksums[i] + "</ChecksumCRC32C>";  // base64: nothing to escape
    out += "</Part>";
  }
  return out + "</CompleteMultipartUpload>";
}

UploadList parse_upload_list(std::string_view body) {
  UploadList list;
  list.truncated = xml_element(body, "IsTruncated").value_or("false") == "true";
  list.next_key_marker = xml_element(body, "NextKeyMarker").value_or("");
  list.next_upload_id_marker = xml_element(body, "NextUploadIdMarker").value_or("");
  for (std::size_t at = body.find("<Upload>"); at != std::string_view::npos; at = body.find("<Upload>", at + 1)) {
    std::size_t end = body.find("</Upload>", at);
    if (end == std::string_view::npos) break;
    std::string_view upload = body.substr(at, end - at);
    auto key = xml_element(upload, "Key");
    auto id = xml_element(upload, "UploadId");
    if (key && id) list.uploads.push_back({*key, *id});
  }
  return list;
}

std::optional<std::string> multipart_etag(const std::vector<std::string>& part_etags,
                                          const std::function<std::string(std::string_view)>& md5) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string digests;
  for (const auto& etag : part_etags) {
    std::string_view hex = etag;
    if (hex.size() == 34 && hex.front() == '"' && hex.back() == '"') hex = hex.substr(1, 32);
    if (hex.size() != 32) return std::nullopt;
    for (std::size_t i = 0; i < 32; i += 2) {
      int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      digests += static_cast<char>(hi * 16 + lo);
    }
  }
  std::string digest = md5(digests);
  if (digest.size() != 16) return std::nullopt;
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : digest) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out + "-" + std::to_string(part_etags.size()) + "\"";
}

std::chrono::seconds complete_timeout(std::uint64_t size) {
  return std::chrono::seconds(120 + size / (64ull << 20));
}

std::uint64_t part_size(std::uint64_t size, std::uint64_t chunk) {
  return std::max<std::uint64_t>(chunk, (size + 9999) / 10000);
}

bool retryable(long http_status, std::string_view code) {
  if (http_status == 429 || http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504)
    return true;
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" ||
         code == "ServiceUnavailable";
}

}  // namespace supervise::s3
