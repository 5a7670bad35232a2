#include "supervise/checkpoint/snapshot.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

namespace supervise::checkpoint {
namespace {

constexpr std::size_t kSkippedExamples = 5;

Stamp stamp_of(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

bool matches(const re2::RE2* regex, const std::string& key) {
  return regex == nullptr || regex->Match(key, 0, key.size(), re2::RE2::ANCHOR_START, nullptr, 0);
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

class Walker {
 public:
  Walker(Snapshot& out, const re2::RE2* regex, std::string root_real)
      : out_(out), regex_(regex), root_real_(std::move(root_real)) {}

  void skip(const std::string& path) {
    ++out_.skipped;
    if (out_.skipped_examples.size() < kSkippedExamples) out_.skipped_examples.push_back(path);
  }

  // Directories are walked with an explicit stack: depth costs no native stack.
  void walk(const std::string& root_dir, const std::string& root_key) {
    std::vector<std::pair<std::string, std::string>> stack = {{root_dir, root_key}};
    bool root = true;
    while (!stack.empty()) {
      auto [dir, key_prefix] = std::move(stack.back());
      stack.pop_back();
      // Only the declared path may be a link; a directory below it that was swapped for
      // a link since it was seen must not lead the walk out of the path.
      int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (root ? 0 : O_NOFOLLOW);
      root = false;
      int fd = ::open(dir.c_str(), flags);
      DIR* d = fd < 0 ? nullptr : ::fdopendir(fd);
      if (d == nullptr) {
        if (fd >= 0) ::close(fd);
        skip(dir);
        continue;
      }
      int dfd = ::dirfd(d);
      while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string path = dir + "/" + e->d_name;
        std::string key = key_prefix + "/" + e->d_name;
        struct stat st {};
        if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
        if (S_ISDIR(st.st_mode)) {
          stack.emplace_back(std::move(path), std::move(key));
        } else if (S_ISREG(st.st_mode)) {
          add(std::move(key), std::move(path), st);
        } else if (S_ISLNK(st.st_mode)) {
          add_link(std::move(key), std::move(path));
        } else if (matches(regex_, key)) {
          skip(path);  // fifo, socket, device (counted only where the regex wanted it)
        }
      }
      ::closedir(d);
    }
  }

 private:
  void add(std::string key, std::string source, const struct stat& st) {
    if (!matches(regex_, key)) return;
    out_.files.push_back({std::move(key), std::move(source), stamp_of(st)});
  }

  // A link is stored as its target's content when the target is a regular file inside
  // the checkpoint's path; any other link is skipped, never followed.
  void add_link(std::string key, std::string path) {
    std::string target = real_path(path);
    struct stat st {};
    bool inside = !target.empty() && target.size() > root_real_.size() &&
                  target.compare(0, root_real_.size(), root_real_) == 0 && target[root_real_.size()] == '/';
    if (!inside || ::stat(target.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      if (matches(regex_, key)) skip(path);
      return;
    }
    add(std::move(key), std::move(target), st);
  }

  Snapshot& out_;
  const re2::RE2* regex_;
  std::string root_real_;
};

}  // namespace

Snapshot take_snapshot(const std::string& path, const re2::RE2* regex) {
  Snapshot out;
  struct stat st {};
  // The declared path itself may be a link (a mounted volume): it is what the user named.
  if (::stat(path.c_str(), &st) != 0) return out;  // not there (yet)
  out.exists = true;
  std::string base = std::filesystem::path(path).filename().string();
  if (S_ISREG(st.st_mode)) {
    out.files.push_back({base, path, stamp_of(st)});
  } else if (S_ISDIR(st.st_mode)) {
    Walker(out, regex, real_path(path)).walk(path, base);
  } else {
    ++out.skipped;  // a fifo, socket or device
    out.skipped_examples.push_back(path);
  }
  return out;
}

Plan plan_round(const Snapshot& snapshot, const StoredFiles& stored) {
  Plan plan;
  for (const auto& file : snapshot.files) {
    auto it = stored.find(file.key);
    if (it != stored.end() && it->second.stamp == file.stamp) ++plan.unchanged;
    else plan.upload.push_back(&file);
  }
  return plan;
}

}  // namespace supervise::checkpoint
