#include "supervise/files.hpp"

#include <spdlog/spdlog.h>

#include "supervise/fs.hpp"

namespace supervise::files {

void write_declared(const std::vector<spec::DeclaredFile>& files) {
  for (const auto& file : files) {
    try {
      fs::write_atomically(file.path, file.contents, file.mode, /*make_parents=*/true);
    } catch (const fs::FileError& e) {
      // Name the declared file: with several, the failing directory alone is ambiguous.
      if (e.context().find(file.path) != std::string::npos) throw;
      throw fs::FileError(e.code().value(), "cannot write " + file.path + ": " + e.context());
    }
    spdlog::debug("wrote {} ({} bytes, mode {:04o})", file.path, file.contents.size(), file.mode);
  }
}

}  // namespace supervise::files
