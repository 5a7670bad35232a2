#include "supervise/process/child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;  // read by merged_environment

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

// Where execvp would look for `file`, in its order: `file` itself when it holds a '/',
// else each directory of the task's own PATH (glibc's default when it has none; an empty
// entry is the working directory). Worked out before the fork, so the child only execs.
std::vector<std::string> exec_candidates(const std::string& file, const std::vector<std::string>& env) {
  if (file.find('/') != std::string::npos) return {file};
  std::string path = "/bin:/usr/bin";
  for (const auto& entry : env)
    if (entry.rfind("PATH=", 0) == 0) path = entry.substr(5);
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out.push_back(dir.empty() ? file : dir + "/" + file);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// execvp's errors that mean "not in this PATH entry": the search goes on to the next.
bool not_here(int error) {
  return error == ENOENT || error == ENOTDIR || error == ESTALE || error == ENODEV || error == ETIMEDOUT;
}

struct ExecPlan {
  std::vector<char*> candidates;  // null-terminated
  std::vector<char*> argv;        // null-terminated
  std::vector<char*> envp;        // null-terminated
  std::vector<char*> shell_argv;  // {"/bin/sh", <candidate>, argv[1..]}: for ENOEXEC, as execvp
};

// The child between vfork and exec. It shares the supervisor's memory until exec, so it
// writes nothing the supervisor reads afterwards and makes only async-signal-safe calls,
// then execs or _exits. execvp's search (skip ENOENT/ENOTDIR/EACCES entries, run a script without
// #! by /bin/sh, report EACCES if any entry had it) is done here over the prepared list.
[[noreturn]] void exec_child(ExecPlan& plan, bool foreground, int report_fd, const InheritedSignals* inherited) {
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
  int error = ENOENT;
  bool denied = false;
  for (char** c = plan.candidates.data(); *c != nullptr; ++c) {
    ::execve(*c, plan.argv.data(), plan.envp.data());
    error = errno;
    if (error == ENOEXEC) {
      // A file without #! that the kernel cannot run: a shell script, as execvp does.
      char** shell = plan.shell_argv.data();
      shell[1] = *c;  // shared with the supervisor, which reads none of it after vfork
      ::execve(shell[0], shell, plan.envp.data());
      error = errno;
    }
    if (error == EACCES) denied = true;
    else if (!not_here(error)) break;
  }
  if (denied && not_here(error)) error = EACCES;
  ssize_t ignored = ::write(report_fd, &error, sizeof error);
  (void)ignored;
  ::_exit(exit_code_for(error));
}

}  // namespace

std::string ExecFailure::message() const { return exit_code == 127 ? "not found" + detail() : std::strerror(error); }

std::string ExecFailure::detail() const {
  return error == ENOTDIR ? " (a path component is not a directory)" : "";
}

std::string ExecFailure::describe(const std::string& program) const {
  return exit_code == 127 ? "command not found: " + program + detail() : "cannot execute " + program + ": " + message();
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
  std::vector<std::string> candidate_strings =
      exec_candidates(argv_strings.empty() ? std::string() : argv_strings.front(), env_strings);
  std::string shell = "/bin/sh";
  ExecPlan plan{pointers(candidate_strings), pointers(argv_strings), pointers(env_strings), {}};
  plan.shell_argv.push_back(shell.data());
  plan.shell_argv.push_back(nullptr);  // the candidate, set by the child
  for (std::size_t i = 1; i < argv_strings.size(); ++i) plan.shell_argv.push_back(argv_strings[i].data());
  plan.shell_argv.push_back(nullptr);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  pid_t pid;
  {
    // No handler of ours may run in the child before exec: block everything across the
    // vfork (the child resets every handler before it unblocks). vfork rather than fork:
    // no page tables to copy and no copy-on-write faults in the supervisor afterwards,
    // and the supervisor waits for the exec (or its failure) anyway.
    BlockAllSignals blocked;
    pid = ::vfork();
    if (pid == 0) exec_child(plan, request.foreground, report[1], request.inherited);
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
