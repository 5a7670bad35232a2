// The fault proxy itself (tests/tools/faultproxy.py, started through faultproxy.hpp):
// the "delay" and "drop_answer" actions and a restart on the same port after SIGKILL,
// checked with plain HTTP requests (moto takes unsigned ones) and read back from moto.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "faultproxy.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "moto.hpp"

namespace test_support {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Deterministic bytes (differ by seed).
std::string bytes_of(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

class FaultProxyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    moto_ = new MotoServer();
    moto_->make_bucket("faultproxy");
  }
  static void TearDownTestSuite() {
    delete moto_;
    moto_ = nullptr;
  }
  static const MotoServer& moto() { return *moto_; }

 private:
  static inline MotoServer* moto_ = nullptr;
};

std::vector<json> of_method(const std::vector<json>& requests, const std::string& method) {
  std::vector<json> out;
  for (const auto& r : requests)
    if (r["method"] == method) out.push_back(r);
  return out;
}

TEST_F(FaultProxyTest, DelayHoldsTheRequestThenForwardsIt) {
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "delay"},
                                                   {"seconds", 2},
                                                   {"methods", {"PUT"}},
                                                   {"path_regex", "^/faultproxy/delay/"}}})});
  const std::string body = bytes_of(300'000, 1);
  HttpClient::Answer put = HttpClient(proxy.port()).request("PUT", "/faultproxy/delay/one.bin", body);
  EXPECT_EQ(put.status, 200) << put.error << put.body;
  EXPECT_GE(put.elapsed, 2000ms);
  // A client that waits for 100-continue gets it, and its whole body is read first.
  HttpClient::Answer put2 = HttpClient(proxy.port()).request("PUT", "/faultproxy/delay/two.bin", body + "2", true);
  EXPECT_EQ(put2.status, 200) << put2.error << put2.body;
  EXPECT_GE(put2.elapsed, 2000ms);
  // Only what the rule filters is held.
  HttpClient::Answer other = HttpClient(proxy.port()).request("PUT", "/faultproxy/other/three.bin", "three");
  EXPECT_EQ(other.status, 200) << other.error << other.body;
  EXPECT_LT(other.elapsed, 2000ms);

  EXPECT_EQ(moto().get("faultproxy", "delay/one.bin"), body);
  EXPECT_EQ(moto().get("faultproxy", "delay/two.bin"), body + "2");
  EXPECT_EQ(moto().get("faultproxy", "other/three.bin"), "three");
  auto puts = of_method(proxy.requests(), "PUT");
  ASSERT_EQ(puts.size(), 3u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(puts[i]["action"], "delay") << puts[i].dump();
    EXPECT_EQ(puts[i]["status"], 200);
    EXPECT_EQ(puts[i]["delay_seconds"], 2.0);
  }
  EXPECT_EQ(puts[0]["body_bytes"], body.size());
  EXPECT_EQ(puts[1]["body_bytes"], body.size() + 1);
  EXPECT_EQ(puts[2]["action"], "forward");
}

// slow_body: the 100-continue 0.5 s late, then the body read at 1 MiB/s (the socket
// buffers of the proxy's side kept small), then forwarded whole.
TEST_F(FaultProxyTest, SlowBodyReadsTheUploadAtItsRateThenForwardsIt) {
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "slow_body"},
                                                   {"rate", 1 << 20},
                                                   {"continue_delay", 0.5},
                                                   {"methods", {"PUT"}},
                                                   {"path_regex", "^/faultproxy/slow/"}}})});
  const std::string body = bytes_of(3 << 20, 3);
  HttpClient::Answer put =
      HttpClient(proxy.port()).request("PUT", "/faultproxy/slow/one.bin", body, true);
  EXPECT_EQ(put.status, 200) << put.error << put.body;
  EXPECT_GE(put.elapsed, 3000ms);  // 0.5 s, then 3 MiB at 1 MiB/s
  HttpClient::Answer other =
      HttpClient(proxy.port()).request("PUT", "/faultproxy/fast/two.bin", body);
  EXPECT_EQ(other.status, 200) << other.error << other.body;
  EXPECT_LT(other.elapsed, 2500ms);
  EXPECT_EQ(moto().get("faultproxy", "slow/one.bin"), body);
  auto puts = of_method(proxy.requests(), "PUT");
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[0]["action"], "slow_body");
  EXPECT_EQ(puts[0]["body_bytes"], body.size());
  EXPECT_EQ(puts[1]["action"], "forward");
}

TEST_F(FaultProxyTest, DropAnswerDoesTheWorkButTheClientNeverHears) {
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "drop_answer"}, {"methods", {"PUT"}}, {"first", 1}},
                                                  {{"action", "drop_answer"},
                                                   {"methods", {"PUT"}},
                                                   {"close", "reset"}}})});
  const std::string body = bytes_of(2'000'000, 2);
  HttpClient::Answer put = HttpClient(proxy.port()).request("PUT", "/faultproxy/drop/one.bin", body, true);
  EXPECT_EQ(put.status, -1) << "the client heard " << put.status;
  EXPECT_NE(put.error.find("end of file"), std::string::npos) << put.error;
  // The second request goes to the second rule: closed with a RST.
  HttpClient::Answer put2 = HttpClient(proxy.port()).request("PUT", "/faultproxy/drop/two.bin", "two");
  EXPECT_EQ(put2.status, -1) << "the client heard " << put2.status;
  EXPECT_FALSE(put2.error.empty());

  // Yet the server did the work.
  EXPECT_EQ(moto().get("faultproxy", "drop/one.bin"), body);
  EXPECT_EQ(moto().get("faultproxy", "drop/two.bin"), "two");
  auto puts = of_method(proxy.requests(), "PUT");
  ASSERT_EQ(puts.size(), 2u);
  for (const auto& r : puts) {
    EXPECT_EQ(r["action"], "drop_answer") << r.dump();
    EXPECT_EQ(r["status"], 200) << r.dump();
  }
  EXPECT_EQ(puts[0]["rule"], 0);
  EXPECT_EQ(puts[1]["rule"], 1);
}

TEST_F(FaultProxyTest, AKilledProxyRestartsOnTheSamePortAtOnce) {
  auto first = std::make_unique<FaultProxy>(moto());
  const int port = first->port();
  // A connection the proxy accepted stays open through the kill: the kernel closes the
  // proxy's end first, which keeps the port busy (FIN_WAIT2/TIME_WAIT) for a listener
  // without SO_REUSEADDR.
  HttpClient held(port);
  HttpClient::Answer a = held.request("PUT", "/faultproxy/restart/before.txt", "before", false, /*keep_alive=*/true);
  ASSERT_EQ(a.status, 200) << a.error;
  first->kill();
  EXPECT_FALSE(first->running());
  EXPECT_TRUE(port_refuses(port));

  auto t0 = std::chrono::steady_clock::now();
  FaultProxy second(moto(), {.port = port});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  ASSERT_TRUE(second.running()) << "a new proxy could not listen on port " << port;
  EXPECT_EQ(second.port(), port);
  EXPECT_NE(second.pid(), first->pid());
  HttpClient::Answer b = HttpClient(port).request("PUT", "/faultproxy/restart/after.txt", "after");
  EXPECT_EQ(b.status, 200) << b.error;
  EXPECT_EQ(moto().get("faultproxy", "restart/before.txt"), "before");
  EXPECT_EQ(moto().get("faultproxy", "restart/after.txt"), "after");
  EXPECT_EQ(of_method(second.requests(), "PUT").size(), 1u);
}

}  // namespace
}  // namespace test_support
