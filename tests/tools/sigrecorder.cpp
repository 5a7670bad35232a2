// sigrecorder: a command for the signal tests that records every signal it receives.
//
//   sigrecorder DIR NAME [--children N] [--exit-on SIG|none]
//
// Catches every signal 1..64 but SIGKILL, SIGSTOP, SIGCHLD and the two glibc keeps for
// itself, and appends each one's number as a line to DIR/NAME.log. With --children N it
// forks N recorders named NAME-1..NAME-N that stay in its process group. DIR/NAME.ready
// (holding the pid) appears once the handlers are in place, in the children too, so a
// test that sees it may signal at once. It exits 0 on --exit-on (default SIGTERM, logged
// first), and on its own after 60 s: a test that forgets it leaves nothing behind for
// long. Children die with their parent (PR_SET_PDEATHSIG).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kLifetimeSeconds = 60;

// What the handler may touch: the log's fd and the exit signal, set before handlers exist.
int g_log_fd = -1;
int g_exit_on = SIGTERM;
volatile sig_atomic_t g_exit_requested = 0;

void on_signal(int signo) {
  int saved_errno = errno;
  char line[8];
  int n = 0;
  char digits[4];
  int d = 0;
  for (int v = signo; v > 0 && d < 4; v /= 10) digits[d++] = static_cast<char>('0' + v % 10);
  while (d > 0) line[n++] = digits[--d];
  line[n++] = '\n';
  // O_APPEND and one short write: a line is never split.
  [[maybe_unused]] ssize_t w = ::write(g_log_fd, line, static_cast<std::size_t>(n));
  if (signo == g_exit_on) g_exit_requested = 1;
  errno = saved_errno;
}

bool reserved(int signo) {
  return signo == SIGKILL || signo == SIGSTOP || signo == SIGCHLD ||
         (signo > 31 && signo < SIGRTMIN);
}

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  // All signals blocked while one is logged: handlers never nest, so the log's order is
  // the order of delivery (a test relies on that to prove a signal did not come).
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int signo = 1; signo <= SIGRTMAX; ++signo) {
    if (reserved(signo)) continue;
    if (::sigaction(signo, &sa, nullptr) != 0) {
      std::fprintf(stderr, "sigrecorder: sigaction(%d): %s\n", signo, std::strerror(errno));
      std::exit(2);
    }
  }
  // Whatever the caller blocked, the recorder wants to see it.
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
}

double now_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Writes `contents` to path by a rename, so a reader never sees a partial file.
void write_atomically(const std::string& path, const std::string& contents) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 ||
      ::write(fd, contents.data(), contents.size()) != static_cast<ssize_t>(contents.size()) ||
      ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "sigrecorder: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    std::exit(2);
  }
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// Sleeps until a signal asks to exit or the lifetime is over; true when asked.
bool wait_for_exit_signal(double until) {
  while (!g_exit_requested) {
    double left = until - now_seconds();
    if (left <= 0) return false;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(left);
    ts.tv_nsec = static_cast<long>((left - static_cast<double>(ts.tv_sec)) * 1e9);
    ::nanosleep(&ts, nullptr);  // a handled signal ends it early (EINTR)
  }
  return true;
}

int parse_signal(const char* text) {
  std::string s = text;
  if (s == "none") return 0;
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  static const std::pair<const char*, int> kNames[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"TERM", SIGTERM},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH}};
  for (const auto& [name, number] : kNames)
    if (s == name) return number;
  char* end = nullptr;
  long n = std::strtol(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || n < 1 || n > SIGRTMAX) {
    std::fprintf(stderr, "sigrecorder: bad signal %s\n", text);
    std::exit(2);
  }
  return static_cast<int>(n);
}

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: sigrecorder DIR NAME [--children N] [--exit-on SIG|none]\n");
  std::exit(2);
}

// One recorder: handlers, log, ready file, then wait. Returns the exit status.
int record(const std::string& dir, const std::string& name, const std::vector<pid_t>& children,
           double until) {
  std::string log = dir + "/" + name + ".log";
  g_log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (g_log_fd < 0) {
    std::fprintf(stderr, "sigrecorder: cannot open %s: %s\n", log.c_str(), std::strerror(errno));
    return 2;
  }
  install_handlers();
  // The children's readiness first: the parent's ready file means the whole group is.
  for (std::size_t i = 0; i < children.size(); ++i) {
    std::string ready = dir + "/" + name + "-" + std::to_string(i + 1) + ".ready";
    while (!exists(ready)) {
      if (now_seconds() >= until || ::waitpid(children[i], nullptr, WNOHANG) == children[i])
        return 3;
      timespec ts{0, 2'000'000};
      ::nanosleep(&ts, nullptr);
    }
  }
  write_atomically(dir + "/" + name + ".ready", std::to_string(::getpid()) + "\n");
  bool asked = wait_for_exit_signal(until);
  for (pid_t child : children) ::kill(child, SIGKILL);
  for (pid_t child : children)
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  return asked ? 0 : 4;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) usage();
  std::string dir = argv[1], name = argv[2];
  int children = 0;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--children" && i + 1 < argc) {
      children = std::atoi(argv[++i]);
    } else if (arg == "--exit-on" && i + 1 < argc) {
      g_exit_on = parse_signal(argv[++i]);
    } else {
      usage();
    }
  }
  double until = now_seconds() + kLifetimeSeconds;

  std::vector<pid_t> pids;
  pid_t parent = ::getpid();
  for (int i = 1; i <= children; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("sigrecorder: fork");
      for (pid_t p : pids) ::kill(p, SIGKILL);
      return 2;
    }
    if (pid == 0) {
      // The recorder is single-threaded: the child may go on as a normal program.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(0);  // the parent is already gone
      ::_exit(record(dir, name + "-" + std::to_string(i), {}, until));
    }
    pids.push_back(pid);
  }
  return record(dir, name, pids, until);
}
