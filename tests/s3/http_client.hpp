// A plain HTTP/1.1 client for the S3 tests: one connection to 127.0.0.1:port that
// speaks just enough HTTP for the fault proxy's own tests and for reading moto directly
// (moto takes unsigned requests): no TLS, no signing, Content-Length bodies only.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace test_support {

class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  struct Answer {
    int status = -1;    // -1: no answer
    std::string error;  // why there is no answer
    std::string head;   // the status line and the headers, as they came
    std::string body;
    std::chrono::milliseconds elapsed{0};
  };

  // A header line ("Name: value") sent with every request of this client.
  HttpClient& with_header(std::string line) {
    headers_ += line + "\r\n";
    return *this;
  }

  // One request; with `expect_continue` the body waits for "100 Continue".
  Answer request(const std::string& method, const std::string& target, const std::string& body = "",
                 bool expect_continue = false, bool keep_alive = false);
  // The value of header `name` (case-insensitive) of an answer; "" when absent.
  static std::string header(const Answer& answer, const std::string& name);

 private:
  bool send_all(const std::string& data);
  bool fill();
  std::optional<std::string> read_head();
  Answer exchange(const std::string& method, const std::string& target, const std::string& body,
                  bool expect_continue, bool keep_alive);

  int fd_ = -1;
  std::string headers_;
  std::string buf_;
  std::string error_;
};

}  // namespace test_support
