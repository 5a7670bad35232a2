// A signal storm against PID 1 (issue 13, item 1): tests/tools/storm sends real-time and
// standard signals to the supervisor, PID 1 of a new PID namespace, while the command's
// children keep exiting; half-way the command exits with 42. The supervisor must keep
// reaping while it forwards, notice the exit at once, and never forward to a command it
// has reaped (a late forward would turn 42 into a signal death). supervise is asserted;
// tini and dumb-init are recorded beside it.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"

namespace {

using namespace test_support;
using compat::Peer;

struct StormResult {
  int exit_status = -1;
  double exit_to_end_ms = -1;
  long sent = 0;
};

bool parse(const std::string& out, StormResult& r) {
  std::smatch m;
  static const std::regex line(R"(exit_status=(\d+) exit_to_end_ms=([0-9.]+) sent=(\d+))");
  if (!std::regex_search(out, m, line)) return false;
  r.exit_status = std::stoi(m[1]);
  r.exit_to_end_ms = std::stod(m[2]);
  r.sent = std::stol(m[3]);
  return true;
}

class Storm : public testing::TestWithParam<Peer> {};

TEST_P(Storm, TheCommandsExitIsSeenAtOnceAndKeepsItsCode) {
  const Peer& peer = GetParam();
  constexpr long kSignals = 20'000;
  std::vector<std::string> args = {"drive", std::to_string(kSignals), "--"};
  for (const auto& a : peer.prefix()) args.push_back(a);
  RunOptions options;
  options.program = STORM_BIN;
  options.timeout = std::chrono::seconds(150);
  test_support::Run r = run(args, options);
  ASSERT_FALSE(r.timed_out) << r.err;
  StormResult s;
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(parse(r.out, s)) << r.out << r.err;
  char observed[160];
  std::snprintf(observed, sizeof observed, "exit status %d, ended %.1f ms after the command's exit (%ld signals)",
                s.exit_status, s.exit_to_end_ms, s.sent);
  // 2 busy cores: the bound is generous; before the fix it was 14 s for 20,000 signals.
  bool as_spec = s.exit_status == 42 && s.exit_to_end_ms < 3000;
  compat::record("20,000-signal storm, PID 1, command exits 42", peer, observed, as_spec);
  if (!peer.is_supervise) return;
  EXPECT_EQ(s.exit_status, 42) << "a forward after the command was reaped, or a wrong status\n" << r.err;
  EXPECT_LT(s.exit_to_end_ms, 3000) << r.err;
  EXPECT_GE(s.sent, kSignals / 2) << "the storm was cut short: " << r.out;
}

INSTANTIATE_TEST_SUITE_P(Peers, Storm, testing::ValuesIn(compat::peers()), compat::peer_name);

}  // namespace
