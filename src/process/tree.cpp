#include "supervise/process/tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <unordered_map>

namespace supervise::process {
namespace {

// The parent pid from /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold
// spaces and parentheses, so parse from the last ')'.
pid_t parent_of(const char* pid_text) {
  std::string path = std::string("/proc/") + pid_text + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  std::string_view s(buf, static_cast<std::size_t>(n));
  std::size_t close = s.rfind(')');
  if (close == std::string_view::npos || close + 4 >= s.size()) return -1;
  // ") S 123": state at close+2, ppid from close+4.
  return static_cast<pid_t>(std::strtol(buf + close + 4, nullptr, 10));
}

}  // namespace

std::vector<pid_t> descendants(pid_t root) {
  std::unordered_multimap<pid_t, pid_t> children;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return {};
  while (dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t ppid = parent_of(e->d_name);
    if (ppid > 0) children.emplace(ppid, static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10)));
  }
  ::closedir(proc);
  std::vector<pid_t> out;
  std::vector<pid_t> frontier = {root};
  while (!frontier.empty()) {
    pid_t p = frontier.back();
    frontier.pop_back();
    auto [begin, end] = children.equal_range(p);
    for (auto it = begin; it != end; ++it) {
      out.push_back(it->second);
      frontier.push_back(it->second);
    }
  }
  return out;
}

bool send_signal(pid_t target, int signal) {
  if (::kill(target, signal) == 0) return true;
  return errno == ESRCH;
}

}  // namespace supervise::process
