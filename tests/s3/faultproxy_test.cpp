// The fault proxy itself (tests/tools/faultproxy.py, started through faultproxy.hpp):
// the "delay" and "drop_answer" actions and a restart on the same port after SIGKILL,
// checked with plain HTTP requests (moto takes unsigned ones) and read back from moto.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "faultproxy.hpp"
#include "harness.hpp"
#include "moto.hpp"

namespace test_support {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// A connection to 127.0.0.1:port that speaks just enough HTTP/1.1 for these tests.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) error_ = std::strerror(errno);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  struct Answer {
    int status = -1;    // -1: no answer
    std::string error;  // why there is no answer
    std::string body;
    std::chrono::milliseconds elapsed{0};
  };

  // One request; with `expect_continue` the body waits for "100 Continue".
  Answer request(const std::string& method, const std::string& target, const std::string& body = "",
                 bool expect_continue = false, bool keep_alive = false) {
    auto t0 = std::chrono::steady_clock::now();
    Answer a = exchange(method, target, body, expect_continue, keep_alive);
    a.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    return a;
  }

 private:
  bool send_all(const std::string& data) {
    for (std::size_t off = 0; off < data.size();) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads until the buffer holds a whole head (and `body_size` more bytes if known).
  // False at end of file or on an error (error_ says which).
  bool fill() {
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) return fill();
    if (n < 0) {
      error_ = std::string("recv: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      error_ = "end of file: the connection was closed";
      return false;
    }
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  std::optional<std::string> read_head() {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return std::nullopt;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    return head;
  }

  Answer exchange(const std::string& method, const std::string& target, const std::string& body,
                  bool expect_continue, bool keep_alive) {
    Answer a;
    if (!error_.empty()) {
      a.error = error_;
      return a;
    }
    std::string head = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: " + (keep_alive ? "keep-alive" : "close") +
                       "\r\n" + (expect_continue ? "Expect: 100-continue\r\n" : "") + "\r\n";
    if (!send_all(head)) {
      a.error = "send failed";
      return a;
    }
    if (expect_continue) {
      auto interim = read_head();
      if (!interim) {
        a.error = error_ + " (waiting for 100 Continue)";
        return a;
      }
      if (interim->rfind("HTTP/1.1 100", 0) != 0) {
        a.error = "no 100 Continue: " + *interim;
        return a;
      }
    }
    if (!send_all(body)) {
      a.error = "send failed";
      return a;
    }
    auto answer = read_head();
    if (!answer) {
      a.error = error_;
      error_.clear();
      return a;
    }
    a.status = std::stoi(answer->substr(9, 3));
    std::size_t length = 0;
    for (const auto& line : lines(*answer + "\n")) {
      if (line.size() > 15 && strncasecmp(line.c_str(), "content-length:", 15) == 0)
        length = std::stoul(line.substr(15));
    }
    if (method != "HEAD") {
      while (buf_.size() < length)
        if (!fill()) break;
      a.body = buf_.substr(0, length);
      buf_.erase(0, std::min(length, buf_.size()));
    }
    return a;
  }

  int fd_ = -1;
  std::string buf_;
  std::string error_;
};

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
  Client::Answer put = Client(proxy.port()).request("PUT", "/faultproxy/delay/one.bin", body);
  EXPECT_EQ(put.status, 200) << put.error << put.body;
  EXPECT_GE(put.elapsed, 2000ms);
  // A client that waits for 100-continue gets it, and its whole body is read first.
  Client::Answer put2 = Client(proxy.port()).request("PUT", "/faultproxy/delay/two.bin", body + "2", true);
  EXPECT_EQ(put2.status, 200) << put2.error << put2.body;
  EXPECT_GE(put2.elapsed, 2000ms);
  // Only what the rule filters is held.
  Client::Answer other = Client(proxy.port()).request("PUT", "/faultproxy/other/three.bin", "three");
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

TEST_F(FaultProxyTest, DropAnswerDoesTheWorkButTheClientNeverHears) {
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "drop_answer"}, {"methods", {"PUT"}}, {"first", 1}},
                                                  {{"action", "drop_answer"},
                                                   {"methods", {"PUT"}},
                                                   {"close", "reset"}}})});
  const std::string body = bytes_of(2'000'000, 2);
  Client::Answer put = Client(proxy.port()).request("PUT", "/faultproxy/drop/one.bin", body, true);
  EXPECT_EQ(put.status, -1) << "the client heard " << put.status;
  EXPECT_NE(put.error.find("end of file"), std::string::npos) << put.error;
  // The second request goes to the second rule: closed with a RST.
  Client::Answer put2 = Client(proxy.port()).request("PUT", "/faultproxy/drop/two.bin", "two");
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
  Client held(port);
  Client::Answer a = held.request("PUT", "/faultproxy/restart/before.txt", "before", false, /*keep_alive=*/true);
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
  Client::Answer b = Client(port).request("PUT", "/faultproxy/restart/after.txt", "after");
  EXPECT_EQ(b.status, 200) << b.error;
  EXPECT_EQ(moto().get("faultproxy", "restart/before.txt"), "before");
  EXPECT_EQ(moto().get("faultproxy", "restart/after.txt"), "after");
  EXPECT_EQ(of_method(second.requests(), "PUT").size(), 1u);
}

}  // namespace
}  // namespace test_support
