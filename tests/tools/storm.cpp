// storm: a signal storm against a supervisor that is PID 1 of a new PID namespace, while
// the supervised command's children keep exiting; it measures how long after the
// command's own exit the supervisor ends (issue 13, item 1). Used by the compatibility
// tests (tests/compat/storm_test.cpp) and bench/process.sh.
//
//   storm drive SIGNALS -- SUPERVISOR-ARGV...
//     Runs `unshare --pid --fork --mount-proc SUPERVISOR-ARGV... storm command DIR 42`,
//     waits for the command to be ready, then sends SIGNALS signals to the supervisor:
//     four in five real-time (SIGRTMIN..SIGRTMIN+7, queued with sigqueue, retried while
//     the queue is full), one in five standard (SIGUSR1, SIGUSR2, SIGWINCH, SIGHUP,
//     SIGURG). Once half are sent, the command is told to exit with 42; the rest follow.
//     Prints one line:
//       exit_status=42 exit_to_end_ms=12.3 sent=100000 storm_ms=850.1
//     exit_status is what unshare exited with (the supervisor's code); exit_to_end_ms is
//     from the command's exit to the supervisor's end (the end of unshare), both on
//     CLOCK_MONOTONIC. Exits 0 when it measured, 1 when it could not.
//
//   storm command DIR CODE
//     The supervised command: catches every catchable signal but SIGCHLD (so forwarded
//     ones do not kill it), writes DIR/ready, then forks a child every 200 us that forks
//     a grandchild and exits at once: the grandchildren, orphaned, end a few ms later and
//     are the supervisor's to reap. When DIR/go appears it stops forking, lets 10 ms pass
//     (the last grandchildren end), writes the CLOCK_MONOTONIC time in ns to DIR/exited
//     and exits with CODE. It gives up after 120 s.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void write_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
  }
  ::rename(tmp.c_str(), path.c_str());
}

void on_signal(int) {}

int command(const std::string& dir, int code) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigfillset(&sa.sa_mask);
  for (int signo = 1; signo < NSIG; ++signo) {
    if (signo == SIGKILL || signo == SIGSTOP || signo == SIGCHLD) continue;
    ::sigaction(signo, &sa, nullptr);  // some numbers are glibc's: those fail, fine
  }
  write_file(dir + "/ready", std::to_string(::getpid()));
  std::int64_t give_up = now_ns() + 120'000'000'000;
  unsigned n = 0;
  while (!exists(dir + "/go")) {
    if (now_ns() > give_up) return 3;
    pid_t child = ::fork();
    if (child == 0) {
      if (::fork() == 0) {
        timespec ts{0, static_cast<long>(1'000'000 + (n % 5) * 1'000'000)};
        ::nanosleep(&ts, nullptr);
        ::_exit(0);
      }
      ::_exit(0);
    }
    if (child > 0) {
      while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    ++n;
    timespec ts{0, 200'000};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
  // The last grandchildren (1-5 ms) end before the command does: what is measured is
  // how soon the supervisor sees its command's exit, not how it treats leftovers.
  timespec settle{0, 10'000'000};
  while (::nanosleep(&settle, &settle) != 0 && errno == EINTR) {
  }
  char buf[32];
  int len = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(now_ns()));
  int fd = ::open((dir + "/exited").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    [[maybe_unused]] ssize_t w = ::write(fd, buf, static_cast<std::size_t>(len));
    ::close(fd);
  }
  ::_exit(code);
}

// The supervisor: unshare's only child (PID 1 of the new namespace).
pid_t child_of(pid_t parent) {
  std::ifstream in("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

int drive(long signals, std::vector<std::string> argv, const std::string& self) {
  char tmpl[] = "/tmp/storm-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return std::perror("mkdtemp"), 1;
  std::string dir = tmpl;
  std::vector<std::string> full = {"unshare", "--pid", "--fork", "--mount-proc"};
  full.insert(full.end(), argv.begin(), argv.end());
  full.insert(full.end(), {self, "command", dir, "42"});
  pid_t unshare = ::fork();
  if (unshare == 0) {
    std::vector<char*> args;
    for (auto& a : full) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::perror("execvp unshare");
    ::_exit(127);
  }
  if (unshare < 0) return std::perror("fork"), 1;
  std::atomic<bool> ended{false};
  std::atomic<std::int64_t> ended_at{0};
  int wait_status = 0;
  std::thread waiter([&] {
    while (::waitpid(unshare, &wait_status, 0) < 0 && errno == EINTR) {
    }
    ended_at = now_ns();
    ended = true;
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!exists(dir + "/ready") && !ended && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  pid_t supervisor = child_of(unshare);
  bool ready = exists(dir + "/ready") && supervisor > 0;
  long sent = 0;
  std::int64_t storm_start = now_ns();
  const int standard[] = {SIGUSR1, SIGUSR2, SIGWINCH, SIGHUP, SIGURG};
  for (long i = 0; ready && i < signals && !ended; ++i) {
    if (i == signals / 2) write_file(dir + "/go", "go");
    int r;
    if (i % 5 == 4) {
      r = ::kill(supervisor, standard[(i / 5) % 5]);
    } else {
      sigval v{};
      v.sival_int = static_cast<int>(i);
      while ((r = ::sigqueue(supervisor, SIGRTMIN + static_cast<int>(i % 8), v)) != 0 && errno == EAGAIN && !ended)
        std::this_thread::sleep_for(std::chrono::microseconds(100));  // the queue is full: let it drain
    }
    if (r != 0) break;  // ESRCH: the supervisor has ended
    ++sent;
  }
  double storm_ms = static_cast<double>(now_ns() - storm_start) / 1e6;
  if (ready && !exists(dir + "/go")) write_file(dir + "/go", "go");
  waiter.join();
  std::int64_t exited = 0;
  {
    std::ifstream in(dir + "/exited");
    in >> exited;
  }
  for (const char* f : {"/ready", "/go", "/exited"}) ::unlink((dir + f).c_str());
  ::rmdir(dir.c_str());
  if (!ready || exited == 0) {
    std::fprintf(stderr, "storm: the command %s\n", ready ? "did not record its exit" : "never became ready");
    return 1;
  }
  int code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  std::printf("exit_status=%d exit_to_end_ms=%.1f sent=%ld storm_ms=%.1f\n", code,
              static_cast<double>(ended_at - exited) / 1e6, sent, storm_ms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "command") return command(args[1], std::atoi(args[2].c_str()));
  if (args.size() >= 4 && args[0] == "drive" && args[2] == "--") {
    // Our own path, absolute: the command runs inside the namespace from the same file.
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return std::perror("readlink"), 1;
    self[n] = '\0';
    return drive(std::atol(args[1].c_str()), {args.begin() + 3, args.end()}, self);
  }
  std::fprintf(stderr, "usage: storm drive SIGNALS -- SUPERVISOR-ARGV... | storm command DIR CODE\n");
  return 2;
}
