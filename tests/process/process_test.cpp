// spawn + Reaper on real processes. Each test runs in its own process (ctest runs one
// test per process), which becomes a child subreaper so orphans come back to it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "supervise/process/child.hpp"
#include "supervise/process/reaper.hpp"
#include "supervise/process/tree.hpp"

namespace supervise::process {
namespace {

class Process : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0); }

  static Spawned start(std::vector<std::string> argv, std::vector<std::pair<std::string, std::string>> env = {},
                       const InheritedSignals* inherited = nullptr) {
    return spawn({std::move(argv), merged_environment(env), false, inherited});
  }

  // Reaps until the main process has ended and no child is left, or the deadline passes.
  static ExitStatus reap_all(Reaper& reaper, pid_t pid) {
    std::optional<ExitStatus> status;
    reaper.watch(pid, [&](ExitStatus s) { status = s; });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while ((!status || reaper.has_children()) && std::chrono::steady_clock::now() < deadline) {
      reaper.reap();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(status.has_value()) << "main process not reaped in time";
    EXPECT_FALSE(reaper.has_children()) << "children left";
    return status.value_or(ExitStatus::exited(-1));
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

TEST_F(Process, ExitCodeAndSignal) {
  Reaper reaper;
  auto a = start({"sh", "-c", "exit 42"});
  EXPECT_FALSE(a.exec_failure);
  EXPECT_EQ(reap_all(reaper, a.pid), ExitStatus::exited(42));
  Reaper reaper2;
  auto b = start({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(reap_all(reaper2, b.pid), ExitStatus::killed(SIGTERM));
}

TEST_F(Process, ExecFailuresComeBackThroughThePipe) {
  Reaper reaper;
  auto missing = start({"/definitely/not/here"});
  ASSERT_TRUE(missing.exec_failure);
  EXPECT_EQ(missing.exec_failure->exit_code, 127);
  EXPECT_EQ(missing.exec_failure->error, ENOENT);
  EXPECT_EQ(reap_all(reaper, missing.pid), ExitStatus::exited(127));

  Reaper reaper2;
  auto directory = start({"/tmp"});
  ASSERT_TRUE(directory.exec_failure);
  EXPECT_EQ(directory.exec_failure->exit_code, 126);
  EXPECT_EQ(reap_all(reaper2, directory.pid), ExitStatus::exited(126));

  Reaper reaper3;
  auto not_in_path = start({"no-such-command-xyz"});
  ASSERT_TRUE(not_in_path.exec_failure);
  EXPECT_EQ(not_in_path.exec_failure->exit_code, 127);
  reap_all(reaper3, not_in_path.pid);
}

TEST_F(Process, PathLookupUsesTheTasksEnvironment) {
  // With PATH pointing nowhere useful, "sh" is not found even though the test's PATH has it.
  Reaper reaper;
  auto s = start({"sh", "-c", "exit 0"}, {{"PATH", "/nonexistent"}});
  ASSERT_TRUE(s.exec_failure);
  EXPECT_EQ(s.exec_failure->exit_code, 127);
  reap_all(reaper, s.pid);
}

// The search follows execvp's rules, done over a list made before the (v)fork: a PATH
// entry that cannot be executed is skipped for a later one; if none can run, EACCES (126);
// a file without #! runs with /bin/sh; an empty PATH entry is the working directory.
TEST_F(Process, PathSearchFollowsExecvp) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("supervise-path-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "first");
  fs::create_directories(dir / "second");
  auto write = [](const fs::path& p, const std::string& text, fs::perms perms) {
    std::ofstream(p) << text;
    fs::permissions(p, perms);
  };
  const auto rw = fs::perms::owner_read | fs::perms::owner_write;
  const auto rwx = rw | fs::perms::owner_exec;
  write(dir / "first" / "tool", "#!/bin/sh\nexit 3\n", rw);            // not executable
  write(dir / "second" / "tool", "#!/bin/sh\nexit 7\n", rwx);          // the one that runs
  write(dir / "second" / "nohashbang", "exit 9\n", rwx);                // ENOEXEC: /bin/sh runs it
  write(dir / "first" / "denied", "#!/bin/sh\nexit 1\n", rw);          // only ever denied
  std::string path = (dir / "first").string() + ":" + (dir / "second").string();

  Reaper r1;
  auto later = start({"tool"}, {{"PATH", path}});
  EXPECT_FALSE(later.exec_failure);
  EXPECT_EQ(reap_all(r1, later.pid), ExitStatus::exited(7));

  Reaper r2;
  auto script = start({"nohashbang", "arg"}, {{"PATH", path}});
  EXPECT_FALSE(script.exec_failure);
  EXPECT_EQ(reap_all(r2, script.pid), ExitStatus::exited(9));

  Reaper r3;
  auto denied = start({"denied"}, {{"PATH", path}});
  ASSERT_TRUE(denied.exec_failure);
  EXPECT_EQ(denied.exec_failure->error, EACCES);
  EXPECT_EQ(denied.exec_failure->exit_code, 126);
  reap_all(r3, denied.pid);

  Reaper r4;
  fs::path cwd = fs::current_path();
  fs::current_path(dir / "second");
  auto here = start({"tool"}, {{"PATH", "/nonexistent:"}});
  fs::current_path(cwd);
  EXPECT_FALSE(here.exec_failure);
  EXPECT_EQ(reap_all(r4, here.pid), ExitStatus::exited(7));
  fs::remove_all(dir);
}

TEST_F(Process, EnvironmentIsInheritedPlusExtra) {
  ::setenv("SUPERVISE_TEST_INHERITED", "yes", 1);
  ::setenv("SUPERVISE_TEST_REPLACED", "old", 1);
  Reaper reaper;
  auto s = start({"sh", "-c", R"(test "$SUPERVISE_TEST_INHERITED" = yes && test "$SUPERVISE_TEST_REPLACED" = new && test "$EXTRA" = "a b")"},
                 {{"SUPERVISE_TEST_REPLACED", "new"}, {"EXTRA", "a b"}});
  EXPECT_EQ(reap_all(reaper, s.pid), ExitStatus::exited(0));
}

TEST_F(Process, ChildLeadsItsOwnProcessGroup) {
  Reaper reaper;
  auto s = start({"sleep", "30"});
  EXPECT_EQ(::getpgid(s.pid), s.pid);
  EXPECT_NE(::getpgid(s.pid), ::getpgrp());
  ASSERT_EQ(::kill(-s.pid, SIGKILL), 0);
  EXPECT_EQ(reap_all(reaper, s.pid), ExitStatus::killed(SIGKILL));
}

TEST_F(Process, InheritedIgnoredAndBlockedSignalsAreRestored) {
  std::string out = (std::filesystem::temp_directory_path() / ("supervise-sig-" + std::to_string(::getpid()))).string();
  // Pretend the supervisor was started with SIGUSR1 ignored and SIGUSR2 blocked.
  InheritedSignals inherited{};
  sigemptyset(&inherited.mask);
  sigemptyset(&inherited.ignored);
  sigaddset(&inherited.ignored, SIGUSR1);
  sigaddset(&inherited.mask, SIGUSR2);
  // And give this process a handler for SIGUSR1 and SIGHUP that must not leak into the child.
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  ::sigaction(SIGUSR1, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
  Reaper reaper;
  // sed execs directly (a shell may reset its own mask), and reads its own status.
  auto s = start({"sed", "-n", "w " + out, "/proc/self/status"}, {}, &inherited);
  EXPECT_EQ(reap_all(reaper, s.pid), ExitStatus::exited(0));
  std::string status = read(out);
  std::filesystem::remove(out);
  auto mask_of = [&](const std::string& key) {
    auto at = status.find(key);
    EXPECT_NE(at, std::string::npos) << status;
    return std::stoull(status.substr(at + key.size()), nullptr, 16);
  };
  auto bit = [](int signo) { return 1ULL << (signo - 1); };
  EXPECT_TRUE(mask_of("SigIgn:") & bit(SIGUSR1)) << status;
  EXPECT_FALSE(mask_of("SigIgn:") & bit(SIGHUP)) << status;
  EXPECT_TRUE(mask_of("SigBlk:") & bit(SIGUSR2)) << status;
  EXPECT_FALSE(mask_of("SigBlk:") & bit(SIGTERM)) << status;
}

TEST_F(Process, ReaperCollectsOrphansAndBurstsWithoutLosingTheMainExit) {
  Reaper reaper;
  // 200 orphaned grandchildren that end at about the same time as the main process.
  auto s = start({"sh", "-c", "i=0; while [ $i -lt 200 ]; do (sleep 0.2 &) ; i=$((i+1)); done; exit 7"});
  EXPECT_EQ(reap_all(reaper, s.pid), ExitStatus::exited(7));
  EXPECT_GE(reaper.reaped(), 201u);  // main + 200 orphans (+ the subshells that exited)
  EXPECT_TRUE(descendants(::getpid()).empty());
}

TEST_F(Process, DescendantsFollowsParentLinks) {
  Reaper reaper;
  auto s = start({"sh", "-c", "sleep 30 & sleep 30 & wait"});
  EXPECT_TRUE([&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (descendants(::getpid()).size() >= 3) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }());
  auto all = descendants(::getpid());
  EXPECT_EQ(all.front(), s.pid);  // children first
  ASSERT_EQ(::kill(-s.pid, SIGKILL), 0);
  EXPECT_EQ(reap_all(reaper, s.pid), ExitStatus::killed(SIGKILL));
}

TEST_F(Process, SendSignalTreatsGoneAsDone) {
  Reaper reaper;
  auto s = start({"true"});
  reap_all(reaper, s.pid);
  EXPECT_EQ(::kill(s.pid, 0), -1);  // gone
  EXPECT_TRUE(send_signal(s.pid, SIGTERM));
  EXPECT_TRUE(send_signal(-s.pid, SIGTERM));
  EXPECT_FALSE(send_signal(::getpid(), 12345));  // EINVAL is a real error
}

}  // namespace
}  // namespace supervise::process
