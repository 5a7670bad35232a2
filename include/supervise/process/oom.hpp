// OOM kills in the supervisor's memory cgroup (SPEC.md "Exit-status JSON": oom_kills,
// oom_killed). The cgroup comes from /proc/self/cgroup, the hierarchies' mount points
// from /proc/self/mountinfo; the count from cgroup v2 `memory.events` where the v2
// hierarchy has the memory controller, else from cgroup v1 `memory.oom_control`
// (both say `oom_kill N`). The parsers take text and are pure; OomWatch reads files,
// never throws, and says "unknown" (nullopt) wherever the kernel does not tell.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace supervise::process::cgroup {

// /proc/self/cgroup: "0::/path" is the v2 (unified) cgroup, "N:cpu,memory:/path" a v1
// line; `memory_v1` is the path of the v1 line whose controllers include memory.
struct Membership {
  std::optional<std::string> unified;
  std::optional<std::string> memory_v1;
};
Membership parse_proc_cgroup(std::string_view text);

// A cgroup hierarchy's mount: `root` is the cgroup mounted (field 4 of mountinfo, "/"
// unless a container sees only part of the hierarchy), `mount_point` where.
struct Mount {
  std::string root;
  std::string mount_point;
};
// /proc/self/mountinfo: the first cgroup2 mount, and the first v1 cgroup mount with the
// memory controller (its super options name it). Octal escapes (\040) are decoded.
struct Mounts {
  std::optional<Mount> unified;
  std::optional<Mount> memory_v1;
};
Mounts parse_mountinfo(std::string_view text);

// The directory of cgroup `path` under `mount`: mount_point plus the path below root;
// nullopt when the path lies outside what is mounted (or climbs with "..").
std::optional<std::string> directory_of(const Mount& mount, std::string_view path);

// The value of the line "oom_kill N" (memory.events, memory.oom_control); nullopt when
// there is none (a v1 kernel before 4.13) or it is not a number.
std::optional<std::uint64_t> parse_oom_kill(std::string_view text);

// memory.max ("max" or bytes) or memory.limit_in_bytes (bytes; "no limit" is a value
// near 2^63): the limit in bytes, nullopt when there is none or the text is not one.
std::optional<std::uint64_t> parse_memory_limit(std::string_view text);

// "100 MiB", "1.5 GiB", "512 KiB", "1000 bytes": a limit for a message.
std::string format_bytes(std::uint64_t bytes);

// A memory cgroup to watch: where its counter and limit files are.
struct MemoryCgroup {
  int version = 2;             // 2: memory.events / memory.max; 1: memory.oom_control / memory.limit_in_bytes
  std::string directory;       // the supervisor's cgroup
  std::string mount_point;     // the hierarchy's top as mounted (limits are looked up to here)
  std::string counter_file() const;
  std::string limit_file_name() const;
};

// Where to look, best first: the v2 cgroup, then the v1 memory cgroup. Either may be
// missing; a v2 hierarchy without the memory controller is told apart only by reading
// (its memory.events does not exist), so both are returned.
std::vector<MemoryCgroup> candidates(const Membership& membership, const Mounts& mounts);

}  // namespace supervise::process::cgroup

namespace supervise::process {

// Counts OOM kills from the start of a run. open() reads the count at once; kills()
// reads it again. Never throws.
class OomWatch {
 public:
  // Finds the cgroup from /proc/self; unknown (every answer nullopt) when none says.
  static OomWatch open();
  // For tests: a given cgroup.
  static OomWatch open(std::vector<cgroup::MemoryCgroup> candidates);

  bool known() const { return start_.has_value(); }
  // OOM kills in the cgroup since open(); nullopt when the kernel does not say.
  std::optional<std::uint64_t> kills() const;
  // The tightest memory limit of the cgroup and its ancestors up to the mount; nullopt
  // when none is set or none can be read.
  std::optional<std::uint64_t> limit_bytes() const;
  // "cgroup v1 /sys/fs/cgroup/memory/x", or "no memory cgroup".
  std::string describe() const;

 private:
  std::optional<cgroup::MemoryCgroup> cgroup_;
  std::optional<std::uint64_t> start_;
};

}  // namespace supervise::process
