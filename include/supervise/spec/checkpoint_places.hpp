// Where each checkpoint entry stores (url/<basename>, url/<basename>.manifest.json) and
// which places clash: two entries writing the same keys, or a file:// store in its own path.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "supervise/spec/task.hpp"

namespace supervise::spec {

// One clash, to be reported at entries[entry].place. The message names the other entry
// by its place, or the entry's path and URL (redacted, quoted); it has no location.
struct PlaceProblem {
  std::size_t entry = 0;
  std::string message;
};

// Every clash among one task's entries (spec entries, then --checkpoint options), in
// entry order; at most one "same place" problem per entry, naming the first earlier
// entry it clashes with. Two entries clash when, on the same store (file://: the file
// system; s3://: a bucket), one's <root>/<basename> equals the other's, lies below it,
// or is its manifest. An entry clashes with itself when its file:// directory is its
// path or lies below it, or its path is <dir>/<basename> or lies below that.
// Lexical, on the normalised paths: pure.
std::vector<PlaceProblem> place_problems(const std::vector<Checkpoint>& entries);

// The same rules on real paths: every file:// directory and entry path (and
// <dir>/<basename>) resolved through symbolic links for as much of it as exists
// (/tmp -> /private/tmp). Reads the file system: for start-up (checkpoint::configure).
std::vector<PlaceProblem> real_place_problems(const std::vector<Checkpoint>& entries);

// `path` (absolute, normalised) with its longest existing leading part replaced by its
// realpath(3) and the rest appended as written.
std::string real_path_of_existing(const std::string& path);

}  // namespace supervise::spec
