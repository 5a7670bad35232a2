// Signal latency through a supervisor: from kill(supervisor, SIG) until the handler of the
// supervised command runs. Built by bench/process.sh with `c++ -O2`, not by CMake.
//
//   sigbench drive FIFO COUNT SIGNO -- SUPERVISOR [ARG...]
//       starts SUPERVISOR ARG... `sigbench child FIFO`, waits for the child to be ready,
//       then COUNT times: takes CLOCK_MONOTONIC, kill(supervisor, SIGNO), reads the time
//       the child's handler took; prints each latency in microseconds, one a line. At the
//       end it SIGKILLs the child and waits for the supervisor (SIGKILL to it after 10 s).
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

int drive(const char* fifo, int count, int signo, char** sup) {
  unlink(fifo);
  if (mkfifo(fifo, 0600) != 0) die("mkfifo");
  int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("open fifo for reading");
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) die("readlink /proc/self/exe");
  self[len] = '\0';
  std::vector<char*> argv;
  for (char** a = sup; *a != nullptr; ++a) argv.push_back(*a);
  std::string child_word = "child", fifo_word = fifo;
  argv.push_back(self);
  argv.push_back(child_word.data());
  argv.push_back(fifo_word.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  Message m{};
  if (!read_message(fd, m, 10000)) {
    std::fprintf(stderr, "sigbench: the child under %s never got ready\n", argv[0]);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return 1;
  }
  pid_t child_pid = static_cast<pid_t>(m.tag);
  int status = 0;
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::int64_t sent = now_ns();
    if (kill(pid, signo) != 0) die("kill");
    if (!read_message(fd, m, 5000)) {
      std::fprintf(stderr, "sigbench: signal %d of %d never reached the child under %s\n", i + 1,
                   count, argv[0]);
      status = 1;
      break;
    }
    us.push_back(static_cast<double>(m.ns - sent) / 1000.0);
  }
  for (double v : us) std::printf("%.1f\n", v);
  kill(child_pid, SIGKILL);
  for (int waited = 0;; waited += 10) {
    pid_t r = waitpid(pid, nullptr, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (waited == 10000) {
      std::fprintf(stderr, "sigbench: %s did not end after its child; SIGKILL\n", argv[0]);
      kill(pid, SIGKILL);
      status = 1;
    }
    usleep(10000);
  }
  unlink(fifo);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "child") == 0) return child(argv[2]);
  if (argc >= 7 && std::strcmp(argv[1], "drive") == 0 && std::strcmp(argv[5], "--") == 0)
    return drive(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argv + 6);
  std::fprintf(stderr,
               "usage: sigbench drive FIFO COUNT SIGNO -- SUPERVISOR [ARG...]\n"
               "       sigbench child FIFO\n");
  return 2;
}
