// Job control in a real terminal (tmux): Ctrl-Z stops the command and the supervisor
// with it, so the user's shell gets the prompt back; `fg` resumes both; Ctrl-C ends
// the command with SIGINT and the supervisor exits 130.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;

// One tmux server of our own (its own socket), killed at the end of the test.
class Tmux {
 public:
  Tmux() : socket_("supervise-test-" + std::to_string(::getpid())) {
    shell("new-session -d -s t -x 200 -y 50 'bash --norc --noprofile'");
    for (const char* what : {"#{pid}", "#{pane_pid}"}) {
      pid_t pid = static_cast<pid_t>(std::atol(shell(std::string("display-message -p -t t '") + what + "'").c_str()));
      if (pid > 0) pids_.push_back(pid);
    }
  }
  // The test process is a child subreaper (leftovers_check_test.cpp): the daemonized
  // server and, once the server is gone, its pane's shell are our children to reap.
  ~Tmux() {
    shell("kill-server");
    for (pid_t pid : pids_) {
      bool reaped = eventually([&] { return ::waitpid(pid, nullptr, WNOHANG) != 0; });
      if (!reaped) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  }

  void keys(const std::string& keys) { shell("send-keys -t t " + keys); }
  std::string screen() { return shell("capture-pane -t t -p"); }
  bool shows(const std::string& text) {
    return eventually([&] { return screen().find(text) != std::string::npos; });
  }

 private:
  std::string shell(const std::string& args) {
    std::string command = "tmux -L " + socket_ + " " + args + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    std::string out;
    std::array<char, 4096> buf{};
    while (pipe && std::fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
    return out;
  }
  std::string socket_;
  std::vector<pid_t> pids_;  // the server's and the pane shell's
};

TEST(JobControl, CtrlZStopsBothAndFgResumes) {
  ASSERT_EQ(::access("/usr/bin/tmux", X_OK), 0) << "tmux is installed by scripts/setup.sh";
  Tmux tmux;
  tmux.keys("'PS1=READY\\> ' Enter");
  ASSERT_TRUE(tmux.shows("READY>")) << tmux.screen();
  tmux.keys("'" + supervise_bin() + " -- sleep 300' Enter");
  ASSERT_TRUE(tmux.shows("started sleep 300")) << tmux.screen();

  tmux.keys("C-z");
  // The shell reports the job stopped and prints its prompt again.
  ASSERT_TRUE(tmux.shows("Stopped")) << tmux.screen();
  tmux.keys("'jobs -l > /dev/null; echo JOBS=$(jobs | wc -l)' Enter");
  ASSERT_TRUE(tmux.shows("JOBS=1")) << tmux.screen();

  tmux.keys("fg Enter");
  ASSERT_TRUE(tmux.shows("supervise -- sleep 300\n")) << tmux.screen();
  // Resumed and in the foreground again: Ctrl-C reaches sleep.
  tmux.keys("C-c");
  ASSERT_TRUE(tmux.shows("command killed by SIGINT")) << tmux.screen();
  tmux.keys("'echo RC=$?' Enter");
  EXPECT_TRUE(tmux.shows("RC=130")) << tmux.screen();
}

}  // namespace
