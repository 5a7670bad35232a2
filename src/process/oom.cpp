#include "supervise/process/oom.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace supervise::process::cgroup {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t at = text.find(sep, start);
    if (at == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines = split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      bool octal = true;
      int value = 0;
      for (std::size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        octal = octal && c >= '0' && c <= '7';
        value = value * 8 + (c - '0');
      }
      if (octal && value < 256) {
        out += static_cast<char>(value);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

bool has_item(std::string_view list, std::string_view item) {
  for (auto part : split(list, ','))
    if (part == item) return true;
  return false;
}

}  // namespace

Membership parse_proc_cgroup(std::string_view text) {
  Membership m;
  for (std::string_view line : lines_of(text)) {
    // hierarchy-ID:controller-list:cgroup-path; the path may itself hold ':'.
    std::size_t first = line.find(':');
    if (first == std::string_view::npos) continue;
    std::size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view id = line.substr(0, first);
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string_view path = line.substr(second + 1);
    if (path.empty() || path.front() != '/') continue;
    if (id == "0" && controllers.empty()) {
      if (!m.unified) m.unified = std::string(path);
    } else if (has_item(controllers, "memory")) {
      if (!m.memory_v1) m.memory_v1 = std::string(path);
    }
  }
  return m;
}

Mounts parse_mountinfo(std::string_view text) {
  Mounts mounts;
  for (std::string_view line : lines_of(text)) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::vector<std::string_view> words = words_of(line);
    std::size_t dash = 6;
    while (dash < words.size() && words[dash] != "-") ++dash;
    if (words.size() < 6 || dash + 2 >= words.size()) continue;
    std::string_view fstype = words[dash + 1];
    std::string_view super_options = dash + 3 < words.size() ? words[dash + 3] : std::string_view{};
    Mount mount{unescape(words[3]), unescape(words[4])};
    if (fstype == "cgroup2") {
      if (!mounts.unified) mounts.unified = std::move(mount);
    } else if (fstype == "cgroup" && has_item(super_options, "memory")) {
      if (!mounts.memory_v1) mounts.memory_v1 = std::move(mount);
    }
  }
  return mounts;
}

std::optional<std::string> directory_of(const Mount& mount, std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  for (auto part : split(path, '/'))
    if (part == "..") return std::nullopt;
  std::string_view root = mount.root;
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  std::string_view below;
  if (root == "/") {
    below = path;
  } else if (path == root) {
    below = "";
  } else if (path.size() > root.size() && path.substr(0, root.size()) == root && path[root.size()] == '/') {
    below = path.substr(root.size());
  } else {
    return std::nullopt;
  }
  std::string dir = mount.mount_point;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  while (!below.empty() && below.back() == '/') below.remove_suffix(1);
  if (!below.empty()) dir += std::string(below);
  return dir;
}

std::optional<std::uint64_t> parse_oom_kill(std::string_view text) {
  for (std::string_view line : lines_of(text)) {
    std::vector<std::string_view> words = words_of(line);
    if (words.size() == 2 && words[0] == "oom_kill") return parse_number(words[1]);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_memory_limit(std::string_view text) {
  std::vector<std::string_view> words = words_of(lines_of(text).empty() ? "" : lines_of(text).front());
  if (words.size() != 1 || words[0] == "max") return std::nullopt;
  auto bytes = parse_number(words[0]);
  // cgroup v1 says "no limit" with PAGE_COUNTER_MAX pages: 2^63 - 1 rounded down to a page.
  if (!bytes || *bytes >= (std::uint64_t{1} << 62)) return std::nullopt;
  return bytes;
}

std::string format_bytes(std::uint64_t bytes) {
  struct Unit {
    const char* name;
    std::uint64_t size;
  };
  constexpr Unit kUnits[] = {{"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}};
  for (const auto& u : kUnits) {
    if (bytes < u.size) continue;
    if (bytes % u.size == 0) return std::to_string(bytes / u.size) + " " + u.name;
    // One decimal, rounded: "1.5 GiB".
    std::uint64_t tenths = (bytes * 10 + u.size / 2) / u.size;
    if (bytes > UINT64_MAX / 10) tenths = bytes / (u.size / 10);
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " " + u.name;
  }
  return std::to_string(bytes) + " bytes";
}

std::string MemoryCgroup::counter_file() const {
  return directory + (version == 2 ? "/memory.events" : "/memory.oom_control");
}

std::string MemoryCgroup::limit_file_name() const {
  return version == 2 ? "memory.max" : "memory.limit_in_bytes";
}

std::vector<MemoryCgroup> candidates(const Membership& membership, const Mounts& mounts) {
  std::vector<MemoryCgroup> out;
  if (membership.unified && mounts.unified)
    if (auto dir = directory_of(*mounts.unified, *membership.unified))
      out.push_back({2, *dir, mounts.unified->mount_point});
  if (membership.memory_v1 && mounts.memory_v1)
    if (auto dir = directory_of(*mounts.memory_v1, *membership.memory_v1))
      out.push_back({1, *dir, mounts.memory_v1->mount_point});
  return out;
}

}  // namespace supervise::process::cgroup

namespace supervise::process {
namespace {

// A whole small file (/proc, cgroupfs), or nullopt with the reason at debug level.
std::optional<std::string> read_small_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    spdlog::debug("cannot open {}: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      spdlog::debug("cannot read {}: {}", path, std::strerror(errno));
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > (1u << 20)) break;  // no cgroup or /proc file this code reads is that big
  }
  ::close(fd);
  return text;
}

std::optional<std::uint64_t> read_count(const cgroup::MemoryCgroup& c) {
  auto text = read_small_file(c.counter_file());
  if (!text) return std::nullopt;
  return cgroup::parse_oom_kill(*text);
}

}  // namespace

OomWatch OomWatch::open() {
  auto self = read_small_file("/proc/self/cgroup");
  auto mountinfo = read_small_file("/proc/self/mountinfo");
  if (!self || !mountinfo) return OomWatch::open({});
  return OomWatch::open(cgroup::candidates(cgroup::parse_proc_cgroup(*self), cgroup::parse_mountinfo(*mountinfo)));
}

OomWatch OomWatch::open(std::vector<cgroup::MemoryCgroup> candidates) {
  OomWatch watch;
  for (auto& c : candidates) {
    if (auto count = read_count(c)) {
      watch.cgroup_ = std::move(c);
      watch.start_ = count;
      break;
    }
  }
  spdlog::debug("OOM kills counted in {}", watch.describe());
  return watch;
}

std::optional<std::uint64_t> OomWatch::kills() const {
  if (!cgroup_ || !start_) return std::nullopt;
  auto now = read_count(*cgroup_);
  if (!now) return std::nullopt;
  return *now >= *start_ ? *now - *start_ : 0;
}

std::optional<std::uint64_t> OomWatch::limit_bytes() const {
  if (!cgroup_) return std::nullopt;
  std::optional<std::uint64_t> tightest;
  std::string dir = cgroup_->directory;
  // Up from the supervisor's cgroup to the top of the hierarchy as mounted: a parent's
  // limit binds the children too.
  for (int depth = 0; depth < 64; ++depth) {
    if (auto text = read_small_file(dir + "/" + cgroup_->limit_file_name()))
      if (auto limit = cgroup::parse_memory_limit(*text))
        tightest = tightest ? std::min(*tightest, *limit) : *limit;
    if (dir.size() <= cgroup_->mount_point.size()) break;
    std::size_t slash = dir.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    dir.resize(slash);
  }
  return tightest;
}

std::string OomWatch::describe() const {
  if (!cgroup_) return "no memory cgroup";
  return "cgroup v" + std::to_string(cgroup_->version) + " " + cgroup_->directory;
}

}  // namespace supervise::process
