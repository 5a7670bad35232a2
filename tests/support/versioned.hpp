// Test support: file contents whose every version is recognisable, for tests where a
// writer keeps rewriting files while checkpoint rounds upload them, so that a test can
// prove each stored copy is ONE whole version (never a mix, never cut short).
//
// Version v of a file is `blocks` blocks of 4096 bytes. Each block starts with a header
// line
//     versioned v=<version> block=<index>/<blocks> name=<name>\n
// followed by pseudo-random filler derived from (name, version, index). Let the block
// count vary with the version (e.g. 2 + v % 5) so that a copy of the wrong length is
// caught as well as a copy of mixed blocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace test_support {

inline constexpr std::size_t kVersionedBlock = 4096;

// The bytes of version `version` of file `name` (blocks >= 1; name without '\n', at most
// 1024 bytes: std::invalid_argument otherwise).
std::string versioned_content(const std::string& name, std::uint64_t version, std::size_t blocks);

struct VersionCheck {
  bool whole = false;         // exactly versioned_content(name, version, its block count)
  std::uint64_t version = 0;  // the version block 0 claims (also when not whole; 0: none)
  std::string why;            // when not whole: what is torn (mixed versions at block i,
                              // wrong size for version v, bad filler, other name, ...)
};

// Whether `bytes` is one whole version of `name`, and which.
VersionCheck check_version(const std::string& name, const std::string& bytes);

// Rewrites `path` in place to `bytes` so that a reader at the same time sees a mix: opens
// it O_WRONLY (created if missing, never O_TRUNC), pwrites `chunk` bytes at a time with
// `pause` after each chunk but the last, then (after one more pause if the file was
// longer: a reader can see the new bytes followed by the old tail) ftruncates it to
// bytes.size(). Throws std::system_error on failure.
void rewrite_in_place(const std::filesystem::path& path, const std::string& bytes, std::size_t chunk,
                      std::chrono::microseconds pause);

}  // namespace test_support
