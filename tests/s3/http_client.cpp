#include "http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "harness.hpp"

namespace test_support {

HttpClient::HttpClient(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{60, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    error_ = std::strerror(errno);
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

HttpClient::Answer HttpClient::request(const std::string& method, const std::string& target,
                                       const std::string& body, bool expect_continue,
                                       bool keep_alive) {
  auto t0 = std::chrono::steady_clock::now();
  Answer a = exchange(method, target, body, expect_continue, keep_alive);
  a.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return a;
}

std::string HttpClient::header(const Answer& answer, const std::string& name) {
  for (const auto& line : lines(answer.head + "\n")) {
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
      std::string value = line.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
      while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
      return value;
    }
  }
  return "";
}

bool HttpClient::send_all(const std::string& data) {
  for (std::size_t off = 0; off < data.size();) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads what comes into the buffer. False at end of file or on an error (error_ says
// which).
bool HttpClient::fill() {
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

std::optional<std::string> HttpClient::read_head() {
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return std::nullopt;
  std::string head = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  return head;
}

HttpClient::Answer HttpClient::exchange(const std::string& method, const std::string& target,
                                        const std::string& body, bool expect_continue,
                                        bool keep_alive) {
  Answer a;
  if (!error_.empty()) {
    a.error = error_;
    return a;
  }
  std::string head =
      method + " " + target +
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: " + (keep_alive ? "keep-alive" : "close") + "\r\n" + headers_ +
      (expect_continue ? "Expect: 100-continue\r\n" : "") + "\r\n";
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
  a.head = *answer;
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

}  // namespace test_support
