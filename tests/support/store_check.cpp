#include "store_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "supervise/checkpoint/crc32c.hpp"

namespace test_support {

namespace {

using json = nlohmann::json;

// Strict standard base64 (RFC 4648, with padding); nullopt for anything else.
std::optional<std::string> decode_base64(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        ++pad;
        v[j] = 0;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = value(c);
      if (v[j] < 0) return std::nullopt;
    }
    std::uint32_t n = (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) | (std::uint32_t(v[2]) << 6) |
                      std::uint32_t(v[3]);
    out += static_cast<char>(n >> 16);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

bool is_crc_hex(const json& value) {
  if (!value.is_string()) return false;
  const std::string& s = value.get_ref<const std::string&>();
  return s.size() == 8 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A boolean field that may be absent (= false); nullopt when present and not a boolean.
std::optional<bool> optional_flag(const json& object, const char* name) {
  if (!object.contains(name)) return false;
  if (!object[name].is_boolean()) return std::nullopt;
  return object[name].get<bool>();
}

}  // namespace

std::string printable_key(const std::string& key) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string StoreCheck::report() const {
  std::ostringstream out;
  out << "store check of manifest " << printable_key(manifest_key) << ": ";
  if (!manifest_found) {
    out << "no manifest\n";
  } else if (manifest.is_object()) {
    out << "round " << manifest.value("round", json()).dump() << ", final " << manifest.value("final", json()).dump()
        << ", complete " << manifest.value("complete", json()).dump() << ", in_progress "
        << manifest.value("in_progress", json()).dump() << ", missing " << manifest.value("missing", json()).dump()
        << "\n";
  } else {
    out << "not a JSON object\n";
  }
  out << "  " << entries << " entries: " << vouched << " vouched (" << objects_checked << " objects checked), "
      << in_progress << " in progress\n";
  if (problems.empty()) {
    out << "  no problems\n";
  } else {
    out << "  " << problems.size() << " problem(s):\n";
    for (const auto& p : problems) out << "  - " << p << "\n";
  }
  return out.str();
}

StoreCheck check_store(const std::string& manifest_key, const FetchObject& fetch) {
  StoreCheck check;
  check.manifest_key = manifest_key;
  auto problem = [&](const std::string& text) { check.problems.push_back(text); };

  std::optional<std::string> text;
  try {
    text = fetch(manifest_key);
  } catch (const std::exception& e) {
    problem("manifest " + printable_key(manifest_key) + ": fetch failed: " + e.what());
    return check;
  }
  if (!text) {
    problem("manifest " + printable_key(manifest_key) + ": no object");
    return check;
  }
  check.manifest_found = true;
  json m = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded() || !m.is_object()) {
    problem("manifest " + printable_key(manifest_key) + ": not a JSON object: " + text->substr(0, 200));
    return check;
  }
  check.manifest = m;

  if (m.value("schema_version", json()) != 1) problem("manifest: schema_version is not 1");
  auto complete = optional_flag(m, "complete");
  if (!m.contains("complete") || !complete) problem("manifest: \"complete\" is not a boolean");
  auto top_in_progress = optional_flag(m, "in_progress");
  if (!top_in_progress) problem("manifest: top-level \"in_progress\" is not a boolean");
  bool is_complete = complete.value_or(false);
  if (!m.contains("missing") || !m["missing"].is_array()) problem("manifest: \"missing\" is not a list");
  if (!m.contains("files") || !m["files"].is_array()) {
    problem("manifest: \"files\" is not a list");
    return check;
  }

  if (is_complete && top_in_progress.value_or(false))
    problem("manifest: complete, yet its round had not ended (top-level in_progress: true)");
  if (is_complete && m.contains("missing") && m["missing"].is_array() && !m["missing"].empty())
    problem("manifest: complete, yet " + std::to_string(m["missing"].size()) + " key(s) missing: " +
            m["missing"].dump());

  std::map<std::string, std::size_t> seen;  // key -> index of its first entry
  const json& files = m["files"];
  for (std::size_t i = 0; i < files.size(); ++i) {
    const json& entry = files[i];
    ++check.entries;
    std::string where = "files[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.contains("key") || !entry["key"].is_string()) {
      problem(where + ": not an object with a string \"key\": " + entry.dump());
      continue;
    }
    std::string key = entry["key"].get<std::string>();
    if (entry.contains("key_base64")) {
      std::optional<std::string> exact;
      if (entry["key_base64"].is_string()) exact = decode_base64(entry["key_base64"].get<std::string>());
      if (!exact) {
        problem(where + " " + printable_key(key) + ": key_base64 is not base64: " + entry["key_base64"].dump());
        continue;
      }
      key = *exact;
    }
    where = "key " + printable_key(key);
    if (auto [at, fresh] = seen.emplace(key, i); !fresh)
      problem(where + ": listed twice (files[" + std::to_string(at->second) + "] and files[" + std::to_string(i) +
              "])");

    auto entry_in_progress = optional_flag(entry, "in_progress");
    if (!entry_in_progress) {
      problem(where + ": \"in_progress\" is not a boolean");
      continue;
    }
    if (*entry_in_progress) {
      ++check.in_progress;
      if (is_complete) problem(where + ": in progress in a manifest that says complete");
      continue;  // no promise about this object
    }
    ++check.vouched;

    if (!entry.contains("size") || !entry["size"].is_number_unsigned()) {
      problem(where + ": \"size\" is not a non-negative integer: " + entry.value("size", json()).dump());
      continue;
    }
    if (!is_crc_hex(entry.value("crc32c", json()))) {
      problem(where + ": \"crc32c\" is not 8 lowercase hex digits: " + entry.value("crc32c", json()).dump());
      continue;
    }
    auto size = entry["size"].get<std::uint64_t>();
    auto crc = entry["crc32c"].get<std::string>();

    std::optional<std::string> object;
    try {
      object = fetch(key);
    } catch (const std::exception& e) {
      problem(where + ": fetch failed: " + e.what());
      continue;
    }
    ++check.objects_checked;
    if (!object) {
      problem(where + ": no object in the store (the manifest vouches for " + std::to_string(size) +
              " bytes, crc32c " + crc + ")");
      continue;
    }
    std::string stored_crc =
        supervise::checkpoint::crc32c_hex(supervise::checkpoint::crc32c(0, object->data(), object->size()));
    if (object->size() != size) {
      problem(where + ": size differs: the manifest says " + std::to_string(size) + " bytes, the store holds " +
              std::to_string(object->size()) + " (crc32c " + crc + " vs " + stored_crc + ")");
      continue;
    }
    if (stored_crc != crc)
      problem(where + ": crc32c differs: the manifest says " + crc + ", the stored " + std::to_string(size) +
              " bytes have " + stored_crc);
  }
  return check;
}

FetchObject file_store_fetch(const std::filesystem::path& store_dir) {
  return [store_dir](const std::string& key) -> std::optional<std::string> {
    std::filesystem::path path = store_dir / key;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return std::nullopt;
      throw std::runtime_error("open " + printable_key(path.string()) + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return std::nullopt;
    }
    std::string out;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int e = errno;
        ::close(fd);
        throw std::runtime_error("read " + printable_key(path.string()) + ": " + std::strerror(e));
      }
      if (n == 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  };
}

std::vector<std::string> file_store_temporaries(const std::filesystem::path& store_dir) {
  static const std::regex temporary(R"(^\..+\.tmp-[A-Za-z0-9]{6}$)");
  std::vector<std::string> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(store_dir, ec)) return out;
  for (auto it = std::filesystem::recursive_directory_iterator(
           store_dir, std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->symlink_status(ec).type() == std::filesystem::file_type::directory) continue;
    if (std::regex_match(it->path().filename().string(), temporary))
      out.push_back(it->path().lexically_relative(store_dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace test_support
