// The compatibility suite runs each scenario under supervise and under the peers users
// would pick instead (tini, dumb-init, Debian's packages). supervise's behaviour is
// asserted against SPEC.md; a peer's is recorded, and where it differs from the spec the
// report says so (SUPERVISE_COMPAT_REPORT=file appends one markdown row per result).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace compat {

enum class Target { kGroup, kChild };

struct Peer {
  std::string name;  // "supervise", "tini", "dumb-init"
  bool is_supervise;
  // argv before the command, for a signal target and a stop timeout (where the peer
  // has one; tini and dumb-init never SIGKILL on their own).
  std::vector<std::string> prefix(Target target = Target::kGroup, const std::string& stop_timeout = "2s") const;
};

std::vector<Peer> peers();  // supervise first

// How gtest prints a Peer parameter: by its name.
inline void PrintTo(const Peer& peer, std::ostream* os) { *os << peer.name; }
std::string peer_name(const testing::TestParamInfo<Peer>& info);

// Records one observed behaviour: scenario, peer, what happened, whether that is what
// SPEC.md asks of supervise. Printed to stdout and appended to the report file if set.
void record(const std::string& scenario, const Peer& peer, const std::string& observed, bool as_spec);

}  // namespace compat
