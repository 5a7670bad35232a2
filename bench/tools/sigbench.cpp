// Signal latency through a supervisor: from kill(supervisor, SIG) until the handler of the
// supervised command runs. Built by bench/process.sh with `c++ -O2`, not by CMake.
//
//   sigbench drive DIR COUNT SIGNO -- SUPERVISOR [ARG...] [::: SUPERVISOR [ARG...]]...
//       starts each SUPERVISOR ARG... `sigbench child DIR/sigbench.K.fifo` and waits for
//       every child to be ready; then 3 unmeasured rounds and COUNT measured ones, each
//       of which, for one supervisor after the other: takes CLOCK_MONOTONIC, sends
//       kill(supervisor, SIGNO), reads the time the child's handler took. Prints "K LATENCY_US" a line (K: 0 for the first supervisor).
//       At the end it SIGKILLs each child and waits for its supervisor (SIGKILL after 10 s).
//   sigbench child FIFO
//       writes {pid, 0} to FIFO, then for every SIGTERM, SIGUSR1 or SIGINT it gets writes
//       {signo, CLOCK_MONOTONIC ns} from the handler; it never exits by itself.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Message {
  std::int64_t tag;  // the child's pid (ready) or the signal number
  std::int64_t ns;   // CLOCK_MONOTONIC at the handler's start
};

int g_fd = -1;

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void on_signal(int signo) {
  Message m{signo, now_ns()};
  int saved = errno;
  [[maybe_unused]] ssize_t n = write(g_fd, &m, sizeof m);
  errno = saved;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "sigbench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int child(const char* fifo) {
  g_fd = open(fifo, O_WRONLY | O_CLOEXEC);
  if (g_fd < 0) die("open fifo for writing");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : {SIGTERM, SIGUSR1, SIGINT}) sigaction(s, &sa, nullptr);
  Message ready{getpid(), 0};
  if (write(g_fd, &ready, sizeof ready) != sizeof ready) die("write ready");
  for (;;) pause();
}

// Reads one message, waiting at most timeout_ms; false on timeout or end of file.
bool read_message(int fd, Message& m, int timeout_ms) {
  std::size_t got = 0;
  auto* p = reinterpret_cast<char*>(&m);
  while (got < sizeof m) {
    pollfd pfd{fd, POLLIN, 0};
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = read(fd, p + got, sizeof m - got);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

struct Supervisor {
  std::string fifo;
  int fd = -1;
  pid_t pid = -1;
  pid_t child = -1;
  std::vector<char*> argv;
};

int drive(const char* dir, int count, int signo, char** args) {
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) die("readlink /proc/self/exe");
  self[len] = '\0';
  static char child_word[] = "child";
  std::vector<Supervisor> sups(1);
  for (char** a = args; *a != nullptr; ++a) {
    if (std::strcmp(*a, ":::") == 0) sups.emplace_back();
    else sups.back().argv.push_back(*a);
  }
  int status = 0;
  for (std::size_t k = 0; k < sups.size(); ++k) {
    Supervisor& s = sups[k];
    if (s.argv.empty()) return std::fprintf(stderr, "sigbench: empty supervisor command\n"), 2;
    s.fifo = std::string(dir) + "/sigbench." + std::to_string(k) + ".fifo";
    unlink(s.fifo.c_str());
    if (mkfifo(s.fifo.c_str(), 0600) != 0) die("mkfifo");
    s.fd = open(s.fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (s.fd < 0) die("open fifo for reading");
    s.argv.push_back(self);
    s.argv.push_back(child_word);
    s.argv.push_back(s.fifo.data());
    s.argv.push_back(nullptr);
    s.pid = fork();
    if (s.pid < 0) die("fork");
    if (s.pid == 0) {
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0), dup2(null, 1), dup2(null, 2);
      execvp(s.argv[0], s.argv.data());
      _exit(127);
    }
  }
  Message m{};
  for (Supervisor& s : sups) {
    if (!read_message(s.fd, m, 10000)) {
      std::fprintf(stderr, "sigbench: the child under %s never got ready\n", s.argv[0]);
      status = 1;
      count = 0;
      break;
    }
    s.child = static_cast<pid_t>(m.tag);
  }
  // Round robin, one signal in flight at a time: a change of the machine's load hits
  // every supervisor alike.
  std::vector<std::vector<double>> us(sups.size());
  // The first kWarmup signals of each supervisor are not measured (first-touch costs).
  constexpr int kWarmup = 3;
  for (int i = -kWarmup; i < count && status == 0; ++i) {
    for (std::size_t k = 0; k < sups.size(); ++k) {
      std::int64_t sent = now_ns();
      if (kill(sups[k].pid, signo) != 0) die("kill");
      if (!read_message(sups[k].fd, m, 5000)) {
        std::fprintf(stderr, "sigbench: signal %d of %d never reached the child under %s\n", i + 1 + kWarmup,
                     count + kWarmup, sups[k].argv[0]);
        status = 1;
        break;
      }
      if (i >= 0) us[k].push_back(static_cast<double>(m.ns - sent) / 1000.0);
    }
  }
  for (std::size_t k = 0; k < sups.size(); ++k)
    for (double v : us[k]) std::printf("%zu %.1f\n", k, v);
  // The end: SIGKILL to each command (or to the supervisor when its child never got ready),
  // then wait for each supervisor, SIGKILL to it after 10 s.
  for (Supervisor& s : sups) kill(s.child > 0 ? s.child : s.pid, SIGKILL);
  for (Supervisor& s : sups) {
    for (int waited = 0;; waited += 10) {
      pid_t r = waitpid(s.pid, nullptr, WNOHANG);
      if (r == s.pid || (r < 0 && errno != EINTR)) break;
      if (waited == 10000) {
        std::fprintf(stderr, "sigbench: %s did not end after its child; SIGKILL\n", s.argv[0]);
        kill(s.pid, SIGKILL);
        status = 1;
      }
      usleep(10000);
    }
    unlink(s.fifo.c_str());
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "child") == 0) return child(argv[2]);
  if (argc >= 7 && std::strcmp(argv[1], "drive") == 0 && std::strcmp(argv[5], "--") == 0)
    return drive(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argv + 6);
  std::fprintf(stderr,
               "usage: sigbench drive DIR COUNT SIGNO -- SUPERVISOR [ARG...] [::: SUPERVISOR [ARG...]]...\n"
               "       sigbench child FIFO\n");
  return 2;
}
