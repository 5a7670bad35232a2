#include "supervise/checkpoint/manifest.hpp"

#include <charconv>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "supervise/checkpoint/crc32c.hpp"
#include "supervise/spec/base64.hpp"
#include "supervise/status/status.hpp"
#include "supervise/utf8.hpp"

namespace supervise::checkpoint {
namespace {

constexpr int kSchemaVersion = 1;

// A JSON string of valid UTF-8 (`text` is), escaped by hand: for 100,000 keys a
// json tree costs several times the bytes written.
void append_escaped_utf8(std::string& out, std::string_view text) {
  static const char hex[] = "0123456789abcdef";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
}

// `text` as a JSON string; bytes that are not UTF-8 become U+FFFD.
void append_string(std::string& out, std::string_view text) {
  out += '"';
  while (!text.empty()) {
    std::size_t bad = invalid_utf8_at(text);
    append_escaped_utf8(out, text.substr(0, bad));
    if (bad == std::string_view::npos) break;
    out += "\xEF\xBF\xBD";
    text.remove_prefix(bad + 1);
  }
  out += '"';
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  append_string(out, value);
}

template <typename Int>
void append_number(std::string& out, std::string_view name, Int value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

void append_bool(std::string& out, std::string_view name, bool value) {
  out += ",\"";
  out += name;
  out += value ? "\":true" : "\":false";
}

std::optional<std::uint32_t> parse_hex32(std::string_view text) {
  if (text.size() != 8) return std::nullopt;
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string manifest_key(const spec::Checkpoint& entry) {
  return std::filesystem::path(entry.path).filename().string() + ".manifest.json";
}

std::string format_mtime(std::int64_t ns) {
  // Whole seconds rounded down (an mtime before 1970 is negative), then the nanoseconds.
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t nanos = ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --secs;
  }
  auto seconds = status::format_time(status::TimePoint(std::chrono::seconds(secs)));
  // "....000Z" -> "....123456789Z".
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09lld", static_cast<long long>(nanos));
  return seconds.substr(0, seconds.size() - 4) + frac + "Z";
}

std::optional<std::int64_t> parse_mtime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ, as format_mtime writes it.
  if (text.size() != 30 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[29] != 'Z')
    return std::nullopt;
  auto number = [&](std::size_t at, std::size_t len) -> std::optional<long long> {
    long long v = 0;
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + len, v);
    if (ec != std::errc() || end != text.data() + at + len) return std::nullopt;
    return v;
  };
  auto year = number(0, 4), month = number(5, 2), day = number(8, 2), hour = number(11, 2),
       minute = number(14, 2), second = number(17, 2), nanos = number(20, 9);
  if (!year || !month || !day || !hour || !minute || !second || !nanos) return std::nullopt;
  std::tm tm{};
  tm.tm_year = static_cast<int>(*year - 1900);
  tm.tm_mon = static_cast<int>(*month - 1);
  tm.tm_mday = static_cast<int>(*day);
  tm.tm_hour = static_cast<int>(*hour);
  tm.tm_min = static_cast<int>(*minute);
  tm.tm_sec = static_cast<int>(*second);
  std::time_t secs = ::timegm(&tm);
  return static_cast<std::int64_t>(secs) * 1'000'000'000 + *nanos;
}

std::string render_manifest(const Manifest& m, std::chrono::system_clock::time_point created_at) {
  std::string out;
  out.reserve(256 + m.files.size() * 128);
  out += "{\"schema_version\":" + std::to_string(kSchemaVersion);
  append_field(out, "path", m.path);
  append_field(out, "url", m.url);
  append_number(out, "round", m.round);
  append_bool(out, "final", m.final);
  append_bool(out, "complete", m.complete);
  append_bool(out, "in_progress", m.in_progress);
  append_field(out, "created_at", status::format_time(created_at));
  out += ",\"files\":[";
  bool first = true;
  for (const auto& f : m.files) {
    out += first ? "{\"key\":" : ",{\"key\":";
    first = false;
    append_string(out, f.key);
    if (!is_utf8(f.key)) append_field(out, "key_base64", spec::base64_encode(f.key));
    append_number(out, "size", f.stamp.size);
    append_field(out, "mtime", format_mtime(f.stamp.mtime_ns));
    append_field(out, "crc32c", crc32c_hex(f.crc32c));
    if (f.in_progress) out += ",\"in_progress\":true";
    out += '}';
  }
  out += "],\"missing\":[";
  first = true;
  for (const auto& key : m.missing) {
    if (!first) out += ',';
    first = false;
    append_string(out, key);
  }
  out += "]}\n";
  return out;
}

Result<Manifest> parse_manifest(std::string_view text) {
  using json = nlohmann::json;
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto fail = [](const std::string& why) { return Error{"not a checkpoint manifest: " + why}; };
  if (doc.is_discarded()) return fail("not JSON");
  if (!doc.is_object()) return fail("not a JSON object");
  auto version = doc.find("schema_version");
  if (version == doc.end() || !version->is_number_integer() || *version != kSchemaVersion)
    return fail("schema_version is not " + std::to_string(kSchemaVersion));
  Manifest m;
  try {
    m.path = doc.value("path", "");
    m.url = doc.value("url", "");
    m.round = doc.value("round", std::size_t{0});
    m.final = doc.value("final", false);
    m.complete = doc.value("complete", false);
    m.in_progress = doc.value("in_progress", false);
    const json& files = doc.at("files");
    if (!files.is_array()) return fail("files is not a list");
    m.files.reserve(files.size());
    for (std::size_t i = 0; i < files.size(); ++i) {
      const json& f = files[i];
      std::string at = "files[" + std::to_string(i) + "]";
      if (!f.is_object()) return fail(at + " is not an object");
      ManifestEntry e;
      if (auto b64 = f.find("key_base64"); b64 != f.end()) {
        auto raw = b64->is_string() ? spec::base64_decode(b64->get<std::string>()) : std::nullopt;
        if (!raw) return fail(at + ".key_base64 is not base64");
        e.key = std::move(*raw);
      } else {
        e.key = f.at("key").get<std::string>();
      }
      const json& size = f.at("size");
      if (!size.is_number_unsigned()) return fail(at + ".size is not a whole number of bytes");
      e.stamp.size = size.get<std::uint64_t>();
      auto mtime = parse_mtime(f.at("mtime").get<std::string>());
      if (!mtime) return fail(at + ".mtime is not a time");
      e.stamp.mtime_ns = *mtime;
      auto crc = parse_hex32(f.at("crc32c").get<std::string>());
      if (!crc) return fail(at + ".crc32c is not 8 hex digits");
      e.crc32c = *crc;
      e.in_progress = f.value("in_progress", false);
      m.files.push_back(std::move(e));
    }
    if (auto missing = doc.find("missing"); missing != doc.end() && missing->is_array())
      for (const auto& k : *missing)
        if (k.is_string()) m.missing.push_back(k.get<std::string>());
  } catch (const json::exception& e) {
    return fail(std::string("a field is missing or of the wrong type (") + e.what() + ")");
  }
  return m;
}

std::unordered_map<std::string, const ManifestEntry*> vouched_entries(const Manifest& manifest) {
  std::unordered_map<std::string, const ManifestEntry*> out;
  out.reserve(manifest.files.size());
  for (const auto& e : manifest.files)
    if (!e.in_progress) out.emplace(e.key, &e);
  return out;
}

}  // namespace supervise::checkpoint
