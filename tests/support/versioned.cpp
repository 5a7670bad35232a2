#include "versioned.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace test_support {

namespace {

constexpr const char* kPrefix = "versioned v=";

std::uint64_t splitmix(std::uint64_t& x) {
  x += 0x9E3779B97F4A7C15ull;
  std::uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string header(const std::string& name, std::uint64_t version, std::size_t index, std::size_t blocks) {
  return kPrefix + std::to_string(version) + " block=" + std::to_string(index) + "/" + std::to_string(blocks) +
         " name=" + name + "\n";
}

std::string block(const std::string& name, std::uint64_t version, std::size_t index, std::size_t blocks) {
  std::string out = header(name, version, index, blocks);
  std::uint64_t x = fnv1a(name);
  x ^= splitmix(x) ^ (version * 0xD6E8FEB86659FD93ull);
  x ^= splitmix(x) ^ (index * 0xA0761D6478BD642Full);
  std::size_t at = out.size();
  out.resize(kVersionedBlock);
  while (at < kVersionedBlock) {
    std::uint64_t z = splitmix(x);
    for (int b = 0; b < 8 && at < kVersionedBlock; ++b, ++at) out[at] = static_cast<char>(z >> (8 * b));
  }
  return out;
}

struct Header {
  std::uint64_t version = 0;
  std::size_t index = 0;
  std::size_t blocks = 0;
  std::string name;
};

std::optional<std::uint64_t> number(const std::string& text, std::size_t& at) {
  std::size_t start = at;
  std::uint64_t value = 0;
  while (at < text.size() && text[at] >= '0' && text[at] <= '9' && at - start < 19)
    value = value * 10 + static_cast<std::uint64_t>(text[at++] - '0');
  if (at == start) return std::nullopt;
  return value;
}

bool expect(const std::string& text, std::size_t& at, const std::string& literal) {
  if (text.compare(at, literal.size(), literal) != 0) return false;
  at += literal.size();
  return true;
}

std::optional<Header> parse_header(const std::string& block_bytes) {
  std::size_t end = block_bytes.find('\n');
  if (end == std::string::npos) return std::nullopt;
  std::string line = block_bytes.substr(0, end);
  std::size_t at = 0;
  Header h;
  if (!expect(line, at, kPrefix)) return std::nullopt;
  auto v = number(line, at);
  if (!v || !expect(line, at, " block=")) return std::nullopt;
  auto i = number(line, at);
  if (!i || !expect(line, at, "/")) return std::nullopt;
  auto n = number(line, at);
  if (!n || !expect(line, at, " name=")) return std::nullopt;
  h.version = *v;
  h.index = static_cast<std::size_t>(*i);
  h.blocks = static_cast<std::size_t>(*n);
  h.name = line.substr(at);
  return h;
}

std::string printable(const std::string& text, std::size_t max = 80) {
  std::string out;
  for (unsigned char c : text.substr(0, max)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char digits[] = "0123456789abcdef";
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string versioned_content(const std::string& name, std::uint64_t version, std::size_t blocks) {
  if (blocks == 0) throw std::invalid_argument("versioned_content: at least one block");
  if (name.find('\n') != std::string::npos || name.size() > 1024)
    throw std::invalid_argument("versioned_content: a name without newlines, at most 1024 bytes");
  std::string out;
  out.reserve(blocks * kVersionedBlock);
  for (std::size_t i = 0; i < blocks; ++i) out += block(name, version, i, blocks);
  return out;
}

VersionCheck check_version(const std::string& name, const std::string& bytes) {
  VersionCheck r;
  if (bytes.empty()) {
    r.why = "empty: no version at all";
    return r;
  }
  auto first = parse_header(bytes.substr(0, kVersionedBlock));
  if (!first) {
    r.why = "block 0 has no header: starts with \"" + printable(bytes, 60) + "\"";
    return r;
  }
  r.version = first->version;
  const std::uint64_t v = first->version;
  const std::size_t n = first->blocks;
  const std::string of_v = "version " + std::to_string(v) + " (" + std::to_string(n) + " blocks)";
  if (first->name != name) {
    r.why = "other name: block 0 is of \"" + printable(first->name) + "\", not \"" + printable(name) + "\"";
    return r;
  }
  if (first->index != 0 || n == 0) {
    r.why = "block 0 says it is block " + std::to_string(first->index) + "/" + std::to_string(n);
    return r;
  }
  const std::size_t present = (bytes.size() + kVersionedBlock - 1) / kVersionedBlock;
  for (std::size_t i = 0; i < std::min(present, n); ++i) {
    std::string here = bytes.substr(i * kVersionedBlock, kVersionedBlock);
    std::string at_i = "block " + std::to_string(i) + " (byte " + std::to_string(i * kVersionedBlock) + ")";
    auto h = parse_header(here);
    if (!h) {
      r.why = "torn: block 0 is " + of_v + ", " + at_i + " has no header (" + std::to_string(here.size()) +
              " bytes: \"" + printable(here, 40) + "\")";
      return r;
    }
    if (h->version != v || h->blocks != n) {
      r.why = "mixed versions: block 0 is " + of_v + ", " + at_i + " is version " + std::to_string(h->version) +
              " (" + std::to_string(h->blocks) + " blocks)";
      return r;
    }
    if (h->name != name) {
      r.why = "other name at " + at_i + ": \"" + printable(h->name) + "\"";
      return r;
    }
    if (h->index != i) {
      r.why = at_i + " of " + of_v + " says it is block " + std::to_string(h->index);
      return r;
    }
    std::string expected = block(name, v, i, n);
    if (expected.compare(0, here.size(), here) != 0) {
      std::size_t off = 0;
      while (off < here.size() && here[off] == expected[off]) ++off;
      r.why = "bad filler: " + at_i + " of " + of_v + " differs from it at byte " +
              std::to_string(i * kVersionedBlock + off) + " (torn within the block)";
      return r;
    }
  }
  if (present > n) {  // more blocks than the version has: another version's tail?
    auto h = parse_header(bytes.substr(n * kVersionedBlock, kVersionedBlock));
    if (h && (h->version != v || h->blocks != n)) {
      r.why = "mixed versions: block 0 is " + of_v + ", block " + std::to_string(n) + " (byte " +
              std::to_string(n * kVersionedBlock) + ") is version " + std::to_string(h->version) + " (" +
              std::to_string(h->blocks) + " blocks)";
      return r;
    }
  }
  if (bytes.size() != n * kVersionedBlock) {
    r.why = "wrong size for " + of_v + ": " + std::to_string(bytes.size()) + " bytes, not " +
            std::to_string(n * kVersionedBlock);
    return r;
  }
  r.whole = true;
  return r;
}

void rewrite_in_place(const std::filesystem::path& path, const std::string& bytes, std::size_t chunk,
                      std::chrono::microseconds pause) {
  if (chunk == 0) throw std::invalid_argument("rewrite_in_place: chunk must be > 0");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
  auto fail = [&](const char* what) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), std::string(what) + " " + path.string());
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("fstat");
  const bool shrinks = static_cast<std::uint64_t>(st.st_size) > bytes.size();
  for (std::size_t off = 0; off < bytes.size();) {
    std::size_t end = std::min(bytes.size(), off + chunk);
    while (off < end) {
      ssize_t n = ::pwrite(fd, bytes.data() + off, end - off, static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("pwrite");
      off += static_cast<std::size_t>(n);
    }
    if (off < bytes.size() && pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  if (shrinks && pause.count() > 0) std::this_thread::sleep_for(pause);
  if (::ftruncate(fd, static_cast<off_t>(bytes.size())) != 0) fail("ftruncate");
  ::close(fd);
}

}  // namespace test_support
