#include "faultproxy.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

namespace test_support {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string& python() {
  static const std::string path = [] {
    RunOptions o;
    o.program = find_in_path("python3");
    Run r = run({"-c", "import sys; print(sys.executable)"}, o);
    std::string exe = r.out.substr(0, r.out.find('\n'));
    return r.exit_code == 0 && !exe.empty() ? exe : o.program;
  }();
  return path;
}

bool port_refuses(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool refused = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

FaultProxy::FaultProxy(const MotoServer& moto, ProxyOptions options)
    : port_(options.port > 0 ? options.port : free_port()) {
  write_file(dir_ / "control.json", json{{"rules", options.rules}}.dump());
  RunOptions run_options;
  run_options.program = python();
  std::vector<std::string> args = {std::string(SUPERVISE_SOURCE_DIR) + "/tests/tools/faultproxy.py",
                                   "--port", std::to_string(port_),
                                   "--upstream", moto.endpoint(),
                                   "--log", dir_ / "requests.jsonl",
                                   "--control", dir_ / "control.json",
                                   "--ready-file", dir_ / "ready.json",
                                   "--idle-timeout", "150"};
  if (options.refuse_seconds > 0) {
    args.insert(args.end(), {"--refuse-seconds", std::to_string(options.refuse_seconds), "--refuse-mode",
                             options.refuse_mode});
  }
  process_ = start(args, run_options);
  // Running (and, unless it refuses on purpose, listening and answering); a proxy that
  // exited (a port it cannot bind, say) is not waited for.
  bool up = eventually(
      [&] {
        if (!process_->running()) return true;
        if (!std::filesystem::exists(dir_ / "ready.json")) return false;
        if (options.refuse_seconds > 0 && options.refuse_mode == "unbound") return true;
        return !port_refuses(port_);
      },
      30s);
  up = up && process_->running();
  if (!up) {
    std::string err;
    if (!process_->running()) err = process_->wait(1s).err;
    ADD_FAILURE() << "faultproxy did not come up on port " << port_ << "\n" << err;
  }
}

void FaultProxy::kill() {
  if (!process_->running()) return;
  process_->signal(SIGKILL);
  process_->wait(10s);
}

void FaultProxy::set_rules(const json& rules) {
  write_file(dir_ / "control.tmp", json{{"rules", rules}}.dump());
  std::filesystem::rename(dir_ / "control.tmp", dir_ / "control.json");
}

std::vector<json> FaultProxy::requests() const {
  std::vector<json> out;
  if (!std::filesystem::exists(dir_ / "requests.jsonl")) return out;
  for (const auto& line : lines(read_file(dir_ / "requests.jsonl"))) {
    auto doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded() && !doc.contains("refused")) out.push_back(doc);
  }
  return out;
}

}  // namespace test_support
