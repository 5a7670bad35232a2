// Orphans COUNT grandchildren: COUNT times it forks a child that forks a grandchild and
// exits at once, so the grandchild is reparented to the nearest subreaper (the supervisor,
// or PID 1 of the namespace). Each grandchild sleeps SLEEP_US microseconds (default 0)
// and exits. The command itself exits only when every grandchild has exited (they all
// hold the write end of a pipe; it reads until end of file), so every supervisor is left
// with the same work, reaping, and none has to kill anything. Built by bench/process.sh.
//
//   orphans COUNT [SLEEP_US]
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: orphans COUNT [SLEEP_US]\n");
    return 2;
  }
  long count = std::atol(argv[1]);
  long sleep_us = argc > 2 ? std::atol(argv[2]) : 0;
  int fds[2];
  if (pipe(fds) != 0) return std::perror("pipe"), 1;
  for (long i = 0; i < count; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      if (errno == EAGAIN) { usleep(1000); --i; continue; }  // process limit: let some go
      return std::perror("fork"), 1;
    }
    if (pid == 0) {
      if (fork() == 0) {  // the grandchild: holds fds[1] until it exits
        close(fds[0]);
        if (sleep_us > 0) {
          timespec ts{sleep_us / 1000000, (sleep_us % 1000000) * 1000};
          nanosleep(&ts, nullptr);
        }
        _exit(0);
      }
      _exit(0);
    }
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
  }
  close(fds[1]);
  char buf[64];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  return 0;
}
