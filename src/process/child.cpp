#include "supervise/process/child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;

namespace supervise::process {
namespace {

int exit_code_for(int error) { return error == ENOENT || error == ENOTDIR ? 127 : 126; }

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The child between fork and exec: async-signal-safe calls only, then exec or _exit.
[[noreturn]] void exec_child(char** argv, char** envp, bool foreground, int report_fd,
                             const InheritedSignals* inherited) {
  ::setpgid(0, 0);
  // Every signal is still blocked here, so tcsetpgrp from what is now a background
  // group cannot stop us with SIGTTOU.
  if (foreground) ::tcsetpgrp(STDIN_FILENO, ::getpid());
  if (inherited != nullptr) {
    SignalPipe::restore_in_child(*inherited);
  } else {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }
  // execvp looks argv[0] up in PATH from `environ`, so the task's own PATH applies.
  environ = envp;
  ::execvp(argv[0], argv);
  int error = errno;
  ssize_t ignored = ::write(report_fd, &error, sizeof error);
  (void)ignored;
  ::_exit(exit_code_for(error));
}

}  // namespace

std::string ExecFailure::message() const { return exit_code == 127 ? "not found" + detail() : std::strerror(error); }

std::string ExecFailure::detail() const {
  return error == ENOTDIR ? " (a path component is not a directory)" : "";
}

std::vector<std::string> merged_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [key, value] : extra) replaced = replaced || key == name;
    if (!replaced) env.emplace_back(entry);
  }
  // Later entries of `extra` win over earlier ones with the same name.
  for (std::size_t i = 0; i < extra.size(); ++i) {
    bool later = false;
    for (std::size_t j = i + 1; j < extra.size(); ++j) later = later || extra[j].first == extra[i].first;
    if (!later) env.push_back(extra[i].first + "=" + extra[i].second);
  }
  return env;
}

Spawned spawn(const SpawnRequest& request) {
  std::vector<std::string> argv_strings = request.argv;
  std::vector<std::string> env_strings = request.environment;
  std::vector<char*> argv = pointers(argv_strings);
  std::vector<char*> envp = pointers(env_strings);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  pid_t pid;
  {
    // No handler of ours may run in the child before exec: block everything across fork.
    BlockAllSignals blocked;
    pid = ::fork();
    if (pid == 0) exec_child(argv.data(), envp.data(), request.foreground, report[1], request.inherited);
  }
  int fork_error = errno;
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    throw std::system_error(fork_error, std::generic_category(), "fork");
  }
  // Also from the parent, so the group exists before the first signal is forwarded to it.
  // EACCES means the child has already exec'd (and set its group itself).
  ::setpgid(pid, pid);

  Spawned spawned{pid, std::nullopt};
  int error = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &error, sizeof error);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof error)) spawned.exec_failure = ExecFailure{error, exit_code_for(error)};
  return spawned;
}

}  // namespace supervise::process
