// tests/tools/faultproxy.py from a test: a fault-injecting HTTP proxy in front of a moto
// server (see the script's docstring for its rules and actions). Each FaultProxy is its
// own process, killed by pid when the object goes (it also ends by itself when idle or
// orphaned); its log and control file live in a temporary directory of its own.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.hpp"
#include "moto.hpp"

namespace test_support {

// The Python interpreter itself (not a pyenv shim), found once.
const std::string& python();

// True when a connect to 127.0.0.1:port is refused (nothing listens there).
bool port_refuses(int port);

struct ProxyOptions {
  nlohmann::json rules = nlohmann::json::array();
  double refuse_seconds = 0;
  std::string refuse_mode = "unbound";
  int port = 0;  // 0: a free port; else this one (e.g. the port of a proxy just killed)
};

class FaultProxy {
 public:
  // Starts the proxy and waits until it runs and (unless it refuses on purpose) answers
  // on its port; a proxy that does not come up in 30 s fails the test.
  explicit FaultProxy(const MotoServer& moto, ProxyOptions options = {});
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;
  ~FaultProxy() = default;  // Started kills it by pid and reaps it

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }

  // SIGKILL (by pid) and reap: the proxy dies as a crashed one does, mid-request or not.
  void kill();

  // A new phase: the proxy reads the control file before each request (rename: atomic).
  void set_rules(const nlohmann::json& rules);

  // Every request logged so far (a line being written is left out).
  std::vector<nlohmann::json> requests() const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Started> process_;
};

}  // namespace test_support
