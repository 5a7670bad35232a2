// Why a task died (SPEC.md "Exit-status JSON": resources, oom_kills, oom_killed; "Exit
// actions": the OOM item). The OOM tests make a child memory cgroup limited to 100 MiB
// under the test's own (cgroup v2 where its hierarchy has the memory controller, else
// v1), run the supervisor inside it, and remove it afterwards; where no memory cgroup
// can be made (not root, no memory controller) they say why and skip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "supervise/process/oom.hpp"

namespace {

using namespace test_support;
namespace cg = supervise::process::cgroup;
namespace fs = std::filesystem;

constexpr std::uint64_t kLimit = 100ULL << 20;

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : find_in_path("python3"); }

// Allocates and writes `mib` MiB (every byte, so every page is resident).
std::vector<std::string> allocate(int mib) {
  return {python(), "-c", "b = b'x' * (" + std::to_string(mib) + " << 20)"};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `text` to a cgroup file: "" on success, else why not.
std::string write_to(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) return path + ": " + std::strerror(errno);
  return "";
}

// A child memory cgroup of the test's own, limited to 100 MiB, removed at the end.
class LimitedCgroup {
 public:
  // Empty when made; else why not.
  std::string make() {
    if (::geteuid() != 0) return "making a memory cgroup needs root";
    cg::Membership self = cg::parse_proc_cgroup(slurp("/proc/self/cgroup"));
    cg::Mounts mounts = cg::parse_mountinfo(slurp("/proc/self/mountinfo"));
    std::string why;
    for (const cg::MemoryCgroup& parent : cg::candidates(self, mounts)) {
      std::string reason = parent.version == 2 ? make_v2(parent.directory) : make_v1(parent.directory);
      if (reason.empty()) return "";
      remove();  // a half-made one
      why += (why.empty() ? "" : "; ") + reason;
    }
    return why.empty() ? "no memory cgroup hierarchy is mounted" : why;
  }

  ~LimitedCgroup() { remove(); }

  void remove() {
    if (dir_.empty()) return;
    std::string dir = dir_;
    dir_.clear();
    // Anything still inside (nothing should be) goes back to the parent, then the
    // cgroup is removed; the kernel may need a moment after the last process ended.
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::istringstream pids(slurp(dir + "/cgroup.procs"));
      for (std::string pid; pids >> pid;) write_to(parent_ + "/cgroup.procs", pid);
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
      ::usleep(50'000);
    }
    ADD_FAILURE() << "cannot remove the test cgroup " << dir << ": " << std::strerror(errno);
  }

  int version() const { return version_; }
  const std::string& directory() const { return dir_; }

  // Runs supervise with args inside the cgroup: a shell moves itself in, then execs it.
  Run run_inside(const std::vector<std::string>& args) const {
    std::string command = "echo $$ > '" + dir_ + "/cgroup.procs' && exec \"$0\" \"$@\"";
    std::vector<std::string> all = {"-c", command, supervise_bin()};
    all.insert(all.end(), args.begin(), args.end());
    RunOptions options;
    options.program = "/bin/sh";
    options.timeout = std::chrono::milliseconds(60'000);
    return run(all, options);
  }

 private:
  std::string create(const std::string& parent) {
    parent_ = parent;
    std::string dir = parent + "/supervise-oom-test-" + std::to_string(::getpid());
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return "mkdir " + dir + ": " + std::strerror(errno);
    dir_ = dir;
    return "";
  }

  std::string make_v2(const std::string& parent) {
    if (slurp(parent + "/cgroup.controllers").find("memory") == std::string::npos)
      return "cgroup v2 at " + parent + " has no memory controller";
    // Children get the controller only through the parent's subtree_control.
    if (slurp(parent + "/cgroup.subtree_control").find("memory") == std::string::npos)
      if (auto e = write_to(parent + "/cgroup.subtree_control", "+memory"); !e.empty())
        return "cgroup v2: cannot enable memory for children: " + e;
    if (auto e = create(parent); !e.empty()) return e;
    version_ = 2;
    if (auto e = write_to(dir_ + "/memory.max", std::to_string(kLimit)); !e.empty()) return e;
    write_to(dir_ + "/memory.swap.max", "0");  // no swap to escape to, where there is swap accounting
    return "";
  }

  std::string make_v1(const std::string& parent) {
    if (auto e = create(parent); !e.empty()) return e;
    version_ = 1;
    if (auto e = write_to(dir_ + "/memory.limit_in_bytes", std::to_string(kLimit)); !e.empty()) return e;
    if (fs::exists(dir_ + "/memory.memsw.limit_in_bytes"))
      write_to(dir_ + "/memory.memsw.limit_in_bytes", std::to_string(kLimit));  // nor to swap
    return "";
  }

  std::string parent_;
  std::string dir_;
  int version_ = 0;
};

class Oom : public ::testing::Test {
 protected:
  void SetUp() override {
    if (python().find('/') == std::string::npos) GTEST_SKIP() << "needs python3 to allocate memory";
    if (auto why = cgroup_.make(); !why.empty()) GTEST_SKIP() << "no memory cgroup could be made: " << why;
  }
  LimitedCgroup cgroup_;
  TempDir dir_;
};

TEST_F(Oom, AnOomKillIsReportedAndMatchesTheOomRule) {
  std::string spec = dir_ / "task.yaml";
  std::string command = "command: [" + allocate(300)[0] + ", -c, \"" + allocate(300)[2] + "\"]\n";
  write_file(spec, "name: hungry\n" + command + "exitActions:\n  RESCHEDULE: 1-255\n  FAIL: OOM\n");
  auto r = cgroup_.run_inside({"--status-file", dir_ / "s.json", "--spec", spec});
  EXPECT_EQ(r.exit_code, 137) << r.err;
  auto s = read_json(dir_ / "s.json");
  EXPECT_EQ(s["exit_code"], 137);
  EXPECT_EQ(s["signal"], "SIGKILL");
  ASSERT_TRUE(s["oom_kills"].is_number_unsigned()) << s.dump(2);
  EXPECT_GE(s["oom_kills"].get<int>(), 1);
  EXPECT_EQ(s["oom_killed"], true);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["matched_rule"], "FAIL: OOM");
  EXPECT_NE(r.err.find("the command was killed by the kernel's OOM killer (memory limit 100 MiB)"),
            std::string::npos)
      << r.err << " (cgroup v" << cgroup_.version() << ")";
  // Killed long before its 300 MiB (ru_maxrss also counts shared pages of the
  // interpreter that another cgroup was charged for, so a little above the limit).
  ASSERT_TRUE(s["resources"].is_object());
  EXPECT_LT(s["resources"]["max_rss_kib"].get<std::uint64_t>(), 200u * 1024) << s.dump(2);
}

TEST_F(Oom, ExitActionOptionFailOom) {
  std::vector<std::string> args = {"--status-file", dir_ / "s.json", "--exit-action", "RESCHEDULE=1-255",
                                   "--exit-action", "FAIL=OOM", "--"};
  for (const auto& a : allocate(300)) args.push_back(a);
  auto r = cgroup_.run_inside(args);
  // FAIL through OOM; without the oom rule 137 would RESCHEDULE.
  EXPECT_EQ(r.exit_code, 137) << r.err;
  auto s = read_json(dir_ / "s.json");
  EXPECT_EQ(s["oom_killed"], true) << s.dump(2);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["matched_rule"], "FAIL: OOM");
}

TEST_F(Oom, ANormalRunInTheSameCgroupCountsNone) {
  std::vector<std::string> args = {"--status-file", dir_ / "s.json", "--exit-action", "FAIL=OOM", "--"};
  for (const auto& a : allocate(20)) args.push_back(a);
  auto r = cgroup_.run_inside(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir_ / "s.json");
  EXPECT_EQ(s["oom_kills"], 0) << s.dump(2);
  EXPECT_EQ(s["oom_killed"], false);
  EXPECT_EQ(s["action"], "COMPLETE");
  EXPECT_EQ(r.err.find("OOM killer"), std::string::npos) << r.err;
}

TEST_F(Oom, AKillByAnyoneElseIsNoOomKill) {
  // SIGKILL with no OOM kill (an eviction, say): the 137 rule, not the OOM one.
  auto r = cgroup_.run_inside({"--status-file", dir_ / "s.json", "--exit-action", "RESCHEDULE=SIGKILL",
                               "--exit-action", "FAIL=OOM", "--", "/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(r.exit_code, 137) << r.err;
  auto s = read_json(dir_ / "s.json");
  EXPECT_EQ(s["oom_kills"], 0);
  EXPECT_EQ(s["oom_killed"], false);
  EXPECT_EQ(s["action"], "RESCHEDULE");
  EXPECT_EQ(s["matched_rule"], "RESCHEDULE: SIGKILL");
}

// --- resources ----------------------------------------------------------------------

TEST(Resources, PeakMemoryOfADescendant) {
  if (python().find('/') == std::string::npos) GTEST_SKIP() << "needs python3 to allocate memory";
  TempDir dir;
  // Through a shell that waits for it: the grandchild's usage reaches the supervisor
  // through the shell's own wait.
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/sh", "-c",
                "'" + python() + "' -c \"b = b'x' * (256 << 20)\"; exit 0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir / "s.json");
  ASSERT_TRUE(s["resources"].is_object()) << s.dump(2);
  EXPECT_GE(s["resources"]["max_rss_kib"].get<std::uint64_t>(), 250'000u) << s.dump(2);
  EXPECT_LT(s["resources"]["max_rss_kib"].get<std::uint64_t>(), 1'000'000u) << s.dump(2);
}

TEST(Resources, CpuTimeOfTheCommand) {
  if (python().find('/') == std::string::npos) GTEST_SKIP() << "needs python3";
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--", python(), "-c",
                // Mostly arithmetic between clock reads: where the clock is a system call (no
                // vDSO in some VMs), reading it in a tight loop would be system time.
                "import time\nwhile time.process_time() < 1.0: sum(range(100000))\n"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir / "s.json");
  double user = s["resources"]["user_cpu_seconds"].get<double>();
  double system = s["resources"]["system_cpu_seconds"].get<double>();
  EXPECT_GE(user, 0.8) << s.dump(2);
  EXPECT_GE(user + system, 1.0) << s.dump(2);
  EXPECT_GE(system, 0.0);
}

TEST(Resources, NullWhenTheCommandNeverStarted) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--exit-action", "FAIL=OOM", "--exit-action",
                "RESCHEDULE=OOM", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 125) << r.err;
  EXPECT_NE(r.err.find("OOM is covered by both FAIL and RESCHEDULE"), std::string::npos) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_TRUE(s["resources"].is_null());
  EXPECT_TRUE(s["oom_kills"].is_null());
  EXPECT_EQ(s["oom_killed"], false);
}

TEST(OomKills, ANormalRunCountsNoneWhereTheKernelSays) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["oom_killed"], false);
  // A number where the kernel says (0 here, unless a test running beside this one in the
  // same cgroup was OOM-killed: the OOM fixture above runs in a cgroup of its own).
  if (supervise::process::OomWatch::open().known()) EXPECT_TRUE(s["oom_kills"].is_number_unsigned()) << s.dump(2);
  else EXPECT_TRUE(s["oom_kills"].is_null()) << s.dump(2);
}

}  // namespace
