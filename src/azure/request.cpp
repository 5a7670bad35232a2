#include "supervise/azure/request.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <random>

#include "supervise/s3/request.hpp"
#include "supervise/spec/base64.hpp"

namespace supervise::azure {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() &&
         (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n'))
    v.remove_suffix(1);
  return v;
}

}  // namespace

std::string blob_url(const std::string& endpoint, const std::string& container,
                     const std::string& blob, const std::string& query) {
  std::string url = endpoint + "/" + container;
  if (!blob.empty()) url += "/" + s3::encode_key(blob);
  return query.empty() ? url : url + "?" + query;
}

std::string url_path(std::string_view url) {
  std::size_t scheme = url.find("://");
  std::size_t start = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  if (start == std::string_view::npos) return "/";
  std::string_view path = url.substr(start);
  return std::string(path.substr(0, path.find('?')));
}

std::string string_to_sign(const SignedRequest& r) {
  // The standard headers by lowercase name, and the x-ms- ones, sorted.
  std::map<std::string, std::string> standard, ms;
  for (const auto& line : r.headers) {
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = lower(trim(std::string_view(line).substr(0, colon)));
    std::string value(trim(std::string_view(line).substr(colon + 1)));
    (name.rfind("x-ms-", 0) == 0 ? ms : standard)[name] = value;
  }
  auto get = [&](const char* name) {
    auto it = standard.find(name);
    return it == standard.end() ? std::string() : it->second;
  };
  std::string out = r.method + "\n";
  out += get("content-encoding") + "\n";
  out += get("content-language") + "\n";
  out += (r.content_length == 0 ? std::string() : std::to_string(r.content_length)) + "\n";
  for (const char* name : {"content-md5", "content-type", "date", "if-modified-since", "if-match",
                           "if-none-match", "if-unmodified-since", "range"})
    out += get(name) + "\n";
  for (const auto& [name, value] : ms) out += name + ":" + value + "\n";
  out += "/" + r.account + r.path;
  // Query parameters: lowercase names, sorted; the values of a repeated one sorted and
  // joined with ','.
  std::map<std::string, std::vector<std::string>> params;
  for (const auto& [name, value] : r.params) params[lower(name)].push_back(value);
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + values[i];
  }
  return out;
}

std::string shared_key(const std::string& account, std::string_view key,
                       const std::string& string_to_sign, const Hmac& hmac) {
  return "SharedKey " + account + ":" + spec::base64_encode(hmac(key, string_to_sign));
}

std::string http_date(std::time_t when) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string block_id(const std::string& nonce, std::size_t index) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%07zu", index);
  return spec::base64_encode(nonce + "-" + digits);
}

std::string block_nonce() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random()));
  return buf;
}

std::string block_list_body(const std::vector<std::string>& ids) {
  std::string out = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const auto& id : ids) out += "<Latest>" + id + "</Latest>";  // base64: nothing to escape
  return out + "</BlockList>";
}

bool retryable(long http_status, std::string_view code) {
  if (http_status == 408 || http_status == 429 || http_status == 500 || http_status == 502 ||
      http_status == 503 || http_status == 504)
    return true;
  return code == "ServerBusy" || code == "OperationTimedOut" || code == "InternalError";
}

}  // namespace supervise::azure
