#include "moto.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

extern char** environ;

namespace test_support {
namespace {

bool answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (ok) {
    const char request[] = "GET / HTTP/1.0\r\n\r\n";
    ok = ::write(fd, request, sizeof request - 1) > 0;
    char buf[16];
    ok = ok && ::read(fd, buf, sizeof buf) > 0;  // an HTTP answer of any kind
  }
  ::close(fd);
  return ok;
}


}  // namespace

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("cannot find a free port");
  ::close(fd);
  return ntohs(addr.sin_port);
}

MotoServer::MotoServer(std::vector<std::string> env) {
  port_ = free_port();
  std::string program = find_in_path("moto_server");
  std::vector<std::string> args = {program, "-H", "127.0.0.1", "-p", std::to_string(port_)};
  std::vector<std::string> all_env;
  for (char** e = environ; *e; ++e) all_env.emplace_back(*e);
  all_env.insert(all_env.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : all_env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string log = log_dir_ / "moto.log";
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (pid_ < 0) throw std::runtime_error("fork failed");
  bool ready = eventually([&] { return answers(port_); }, std::chrono::seconds(60));
  if (!ready) ADD_FAILURE() << "moto_server did not answer on port " << port_ << ":\n" << read_file(log);
}

MotoServer::~MotoServer() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool gone = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(10));
  if (!gone) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
}

std::vector<std::string> MotoServer::client_env(const std::string& key, const std::string& secret) const {
  return {"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_ENDPOINT_URL=" + endpoint(),
          "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1", "AWS_SESSION_TOKEN="};
}

Run MotoServer::aws(const std::vector<std::string>& args, const std::vector<std::string>& env) const {
  RunOptions options;
  options.program = find_in_path("aws");
  options.env = client_env();
  options.env.insert(options.env.end(), env.begin(), env.end());
  options.env.push_back("AWS_PAGER=");
  return run(args, options);
}

void MotoServer::make_bucket(const std::string& bucket) const {
  Run r = aws({"s3api", "create-bucket", "--bucket", bucket});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::optional<std::string> MotoServer::get(const std::string& bucket, const std::string& key) const {
  TempDir dir;
  Run r = aws({"s3api", "get-object", "--bucket", bucket, "--key", key, dir / "object"});
  if (r.exit_code != 0) return std::nullopt;
  return read_file(dir / "object");
}

}  // namespace test_support
