// Exit codes under supervise, tini and dumb-init (SPEC.md "Exit status of the
// supervisor"): every code 0..255 of the command passes through, and a command killed by
// signal N gives 128+N. All three agree; the peers are asserted too, so the report's rows
// stay true.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"

namespace {

using compat::Peer;
using std::chrono::seconds;
using test_support::Started;

// Starts `command` under the peer (its default signal target).
std::unique_ptr<Started> start_under(const Peer& peer, const std::vector<std::string>& command) {
  std::vector<std::string> prefix = peer.prefix();
  test_support::RunOptions options;
  options.program = prefix.front();
  std::vector<std::string> args(prefix.begin() + 1, prefix.end());
  args.insert(args.end(), command.begin(), command.end());
  return test_support::start(args, options);
}

class ExitCodePassThrough : public testing::TestWithParam<Peer> {};

TEST_P(ExitCodePassThrough, EveryCodeFrom0To255) {
  const Peer& peer = GetParam();
  // 256 short runs, a batch at a time in parallel: a few seconds in all.
  constexpr int kBatch = 16;
  std::vector<std::string> wrong;
  for (int first = 0; first <= 255; first += kBatch) {
    std::vector<std::pair<int, std::unique_ptr<Started>>> batch;
    for (int code = first; code < first + kBatch && code <= 255; ++code)
      batch.emplace_back(code,
                         start_under(peer, {"/bin/sh", "-c", "exit " + std::to_string(code)}));
    for (auto& [code, started] : batch) {
      auto r = started->wait(seconds(60));
      if (r.exit_code != code || r.timed_out)
        wrong.push_back(std::to_string(code) + " gave " + std::to_string(r.exit_code) +
                        (r.timed_out ? " (timed out)" : "") + " " + r.err);
    }
  }
  std::string observed = "all 256 codes passed through";
  if (!wrong.empty()) {
    observed = "differs for:";
    for (const auto& w : wrong) observed += " " + w + ";";
  }
  compat::record("exit code N of `sh -c 'exit N'`, N = 0..255", peer, observed, wrong.empty());
  EXPECT_TRUE(wrong.empty()) << observed;
}

INSTANTIATE_TEST_SUITE_P(Peers, ExitCodePassThrough, testing::ValuesIn(compat::peers()),
                         compat::peer_name);

struct DeathCase {
  const char* name;  // for `kill -NAME` and the test's name
  int number;
};

const DeathCase kDeaths[] = {{"TERM", SIGTERM}, {"HUP", SIGHUP},   {"QUIT", SIGQUIT},
                             {"KILL", SIGKILL}, {"SEGV", SIGSEGV}, {"USR1", SIGUSR1}};

class SignalDeathExitCode : public testing::TestWithParam<Peer> {};

TEST_P(SignalDeathExitCode, Is128PlusTheSignal) {
  const Peer& peer = GetParam();
  std::vector<std::pair<const DeathCase*, std::unique_ptr<Started>>> all;
  // The shell kills itself (none of these is ignored or caught by sh); `exit 99` shows
  // a shell that survived. No core file: QUIT and SEGV would dump one.
  for (const auto& death : kDeaths)
    all.emplace_back(&death, start_under(peer, {"/bin/sh", "-c",
                                                std::string("ulimit -c 0 2>/dev/null; kill -") +
                                                    death.name + " $$; exit 99"}));
  std::string observed;
  bool as_spec = true;
  for (auto& [death, started] : all) {
    auto r = started->wait(seconds(60));
    int expected = 128 + death->number;
    EXPECT_EQ(r.exit_code, expected) << "SIG" << death->name << " " << r.err;
    EXPECT_FALSE(r.timed_out);
    as_spec = as_spec && r.exit_code == expected;
    observed += std::string(observed.empty() ? "" : ", ") + "SIG" + death->name + " -> " +
                std::to_string(r.exit_code);
  }
  compat::record("child killed by signal N gives 128+N", peer, observed, as_spec);
}

INSTANTIATE_TEST_SUITE_P(Peers, SignalDeathExitCode, testing::ValuesIn(compat::peers()),
                         compat::peer_name);

}  // namespace
