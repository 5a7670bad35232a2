// The cgroup parsing behind oom_kills (process/oom.hpp): /proc/self/cgroup, mountinfo,
// memory.events / memory.oom_control, memory limits; and OomWatch on files it is given.
#include "supervise/process/oom.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace supervise::process {
namespace {

using namespace cgroup;

// A v1/v2 hybrid as these machines run it (systemd's "hybrid" layout).
constexpr const char* kHybridCgroup =
    "9:name=systemd:/\n"
    "8:pids:/\n"
    "4:memory:/process_api/3dc439a3\n"
    "2:cpuacct:/\n"
    "1:cpu,cpuacct:/\n"
    "0::/\n";

constexpr const char* kHybridMountinfo =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(ProcCgroup, HybridHasBoth) {
  Membership m = parse_proc_cgroup(kHybridCgroup);
  EXPECT_EQ(m.unified, "/");
  EXPECT_EQ(m.memory_v1, "/process_api/3dc439a3");
}

TEST(ProcCgroup, PureV2AndPureV1AndJoinedControllers) {
  Membership v2 = parse_proc_cgroup("0::/kubepods/burstable/pod1/abc\n");
  EXPECT_EQ(v2.unified, "/kubepods/burstable/pod1/abc");
  EXPECT_FALSE(v2.memory_v1);
  Membership v1 = parse_proc_cgroup("5:cpuacct,memory:/docker/x\n3:pids:/docker/x");  // no final newline
  EXPECT_FALSE(v1.unified);
  EXPECT_EQ(v1.memory_v1, "/docker/x");
  // "memoryx" is not memory; a path may hold ':'; garbage lines are skipped.
  Membership odd = parse_proc_cgroup("garbage\n7:memoryx:/a\n4:memory:/a:b\n0::relative\n");
  EXPECT_EQ(odd.memory_v1, "/a:b");
  EXPECT_FALSE(odd.unified);
  EXPECT_FALSE(parse_proc_cgroup("").unified);
}

TEST(Mountinfo, FindsTheCgroup2AndTheV1MemoryMount) {
  Mounts mounts = parse_mountinfo(kHybridMountinfo);
  ASSERT_TRUE(mounts.unified);
  EXPECT_EQ(mounts.unified->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(mounts.unified->root, "/");
  ASSERT_TRUE(mounts.memory_v1);
  EXPECT_EQ(mounts.memory_v1->mount_point, "/sys/fs/cgroup/memory");  // past the optional field
}

TEST(Mountinfo, EscapesRootsAndMissingMounts) {
  Mounts m = parse_mountinfo(
      "1 0 0:1 /docker/abc /sys/fs/cgroup/my\\040memory ro - cgroup cgroup rw,cpu,memory\n"
      "2 0 0:2 / /cg2 rw - cgroup2 none rw\n"
      "3 0 0:3 / /cg2b rw - cgroup2 none rw\n");
  ASSERT_TRUE(m.memory_v1);
  EXPECT_EQ(m.memory_v1->mount_point, "/sys/fs/cgroup/my memory");
  EXPECT_EQ(m.memory_v1->root, "/docker/abc");
  EXPECT_EQ(m.unified->mount_point, "/cg2");  // the first one
  Mounts none = parse_mountinfo("1 0 0:1 / / rw - ext4 /dev/sda rw\nshort line\n1 2 3 4 5 6 -\n");
  EXPECT_FALSE(none.unified);
  EXPECT_FALSE(none.memory_v1);
}

TEST(DirectoryOf, StripsTheMountedRoot) {
  EXPECT_EQ(directory_of({"/", "/sys/fs/cgroup/memory"}, "/a/b"), "/sys/fs/cgroup/memory/a/b");
  EXPECT_EQ(directory_of({"/", "/sys/fs/cgroup"}, "/"), "/sys/fs/cgroup");
  EXPECT_EQ(directory_of({"/docker/abc", "/sys/fs/cgroup/memory"}, "/docker/abc"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(directory_of({"/docker/abc", "/sys/fs/cgroup/memory"}, "/docker/abc/sub"),
            "/sys/fs/cgroup/memory/sub");
  EXPECT_FALSE(directory_of({"/docker/abc", "/m"}, "/docker/abcd"));  // not below the root
  EXPECT_FALSE(directory_of({"/docker/abc", "/m"}, "/other"));
  EXPECT_FALSE(directory_of({"/", "/m"}, "/a/../../etc"));
  EXPECT_FALSE(directory_of({"/", "/m"}, "relative"));
}

TEST(Candidates, V2FirstThenV1) {
  auto list = candidates(parse_proc_cgroup(kHybridCgroup), parse_mountinfo(kHybridMountinfo));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].version, 2);
  EXPECT_EQ(list[0].counter_file(), "/sys/fs/cgroup/unified/memory.events");
  EXPECT_EQ(list[0].limit_file_name(), "memory.max");
  EXPECT_EQ(list[1].version, 1);
  EXPECT_EQ(list[1].counter_file(), "/sys/fs/cgroup/memory/process_api/3dc439a3/memory.oom_control");
  EXPECT_EQ(list[1].limit_file_name(), "memory.limit_in_bytes");
  EXPECT_TRUE(candidates(parse_proc_cgroup("0::/x\n"), parse_mountinfo("")).empty());
}

TEST(OomKill, FromMemoryEventsAndOomControl) {
  EXPECT_EQ(parse_oom_kill("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"), 2u);
  EXPECT_EQ(parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 17\n"), 17u);
  EXPECT_FALSE(parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n"));  // a kernel before 4.13
  EXPECT_FALSE(parse_oom_kill("oom_kill x\n"));
  EXPECT_FALSE(parse_oom_kill("oom_kill 99999999999999999999999\n"));
  EXPECT_FALSE(parse_oom_kill(""));
}

TEST(MemoryLimit, BytesOrNone) {
  EXPECT_EQ(parse_memory_limit("104857600\n"), 104857600u);
  EXPECT_FALSE(parse_memory_limit("max\n"));
  EXPECT_FALSE(parse_memory_limit("9223372036854771712\n"));  // v1's "no limit"
  EXPECT_FALSE(parse_memory_limit(""));
  EXPECT_FALSE(parse_memory_limit("12 34\n"));
  EXPECT_FALSE(parse_memory_limit("-1\n"));
}

TEST(FormatBytes, BinaryUnits) {
  EXPECT_EQ(format_bytes(100ULL << 20), "100 MiB");
  EXPECT_EQ(format_bytes(3ULL << 30), "3 GiB");
  EXPECT_EQ(format_bytes((3ULL << 30) / 2), "1.5 GiB");
  EXPECT_EQ(format_bytes(512ULL << 10), "512 KiB");
  EXPECT_EQ(format_bytes(1000), "1000 bytes");
  EXPECT_EQ(format_bytes(0), "0 bytes");
  EXPECT_EQ(format_bytes(2ULL << 40), "2 TiB");
}

// OomWatch on files of a directory standing in for a cgroup.
class OomWatchFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    top_ = std::filesystem::temp_directory_path() / ("oom-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(top_ / "a" / "b");
  }
  void TearDown() override { std::filesystem::remove_all(top_); }
  void write(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }
  std::filesystem::path top_;
};

TEST_F(OomWatchFiles, CountsFromOpenAndFindsTheTightestLimit) {
  write(top_ / "a" / "b" / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
  write(top_ / "a" / "b" / "memory.limit_in_bytes", "9223372036854771712\n");
  write(top_ / "a" / "memory.limit_in_bytes", "104857600\n");
  write(top_ / "memory.limit_in_bytes", "209715200\n");
  // v2 first: its memory.events is missing (no memory controller), so v1 is used.
  OomWatch watch = OomWatch::open({{2, (top_ / "nothing").string(), top_.string()},
                                   {1, (top_ / "a" / "b").string(), top_.string()}});
  ASSERT_TRUE(watch.known());
  EXPECT_EQ(watch.describe(), "cgroup v1 " + (top_ / "a" / "b").string());
  EXPECT_EQ(watch.kills(), 0u);
  write(top_ / "a" / "b" / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 6\n");
  EXPECT_EQ(watch.kills(), 2u);
  EXPECT_EQ(watch.limit_bytes(), 104857600u);
  std::filesystem::remove(top_ / "a" / "b" / "memory.oom_control");
  EXPECT_FALSE(watch.kills());  // cannot be read any more: unknown, not 0
}

TEST_F(OomWatchFiles, NothingKnownWithoutACgroup) {
  OomWatch none = OomWatch::open(std::vector<MemoryCgroup>{});
  EXPECT_FALSE(none.known());
  EXPECT_FALSE(none.kills());
  EXPECT_FALSE(none.limit_bytes());
  EXPECT_EQ(none.describe(), "no memory cgroup");
  write(top_ / "memory.events", "low 0\n");  // no oom_kill line: the kernel does not say
  EXPECT_FALSE(OomWatch::open({{2, top_.string(), top_.string()}}).known());
}

TEST(OomWatch, OfThisProcessNeverThrows) {
  OomWatch watch = OomWatch::open();
  if (watch.known()) EXPECT_TRUE(watch.kills().has_value()) << watch.describe();
}

}  // namespace
}  // namespace supervise::process
