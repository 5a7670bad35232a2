#include <gtest/gtest.h>

#include "peers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace compat {

std::vector<std::string> Peer::prefix(Target target, const std::string& stop_timeout) const {
  bool group = target == Target::kGroup;
  if (name == "supervise")
    return {SUPERVISE_BIN, "--log-level", "warn", "--stop-timeout", stop_timeout, "--signal-target",
            group ? "group" : "child", "--"};
  if (name == "tini") {
    // -s: child subreaper when not PID 1; -g: signals to the child's process group.
    std::vector<std::string> argv = {"/usr/bin/tini", "-s"};
    if (group) argv.push_back("-g");
    argv.push_back("--");
    return argv;
  }
  // dumb-init: the whole session by default, only the child with --single-child.
  std::vector<std::string> argv = {"/usr/bin/dumb-init"};
  if (!group) argv.push_back("--single-child");
  return argv;
}

std::vector<Peer> peers() {
  return {{"supervise", true}, {"tini", false}, {"dumb-init", false}};
}

std::string peer_name(const testing::TestParamInfo<Peer>& info) {
  std::string n = info.param.name;
  for (auto& c : n)
    if (c == '-') c = '_';
  return n;
}

void record(const std::string& scenario, const Peer& peer, const std::string& observed, bool as_spec) {
  std::string row = "| " + scenario + " | " + peer.name + " | " + observed + " | " + (as_spec ? "yes" : "**no**") + " |\n";
  std::cout << "[compat] " << row;
  if (const char* path = std::getenv("SUPERVISE_COMPAT_REPORT")) {
    int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      // One write with O_APPEND: rows from parallel test processes do not interleave.
      ssize_t n = ::write(fd, row.data(), row.size());
      (void)n;
      ::close(fd);
    }
  }
}

}  // namespace compat
