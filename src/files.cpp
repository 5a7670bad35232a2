#include "supervise/files.hpp"

#include <spdlog/spdlog.h>

#include "supervise/fs.hpp"

namespace supervise::files {

void write_declared(const std::vector<spec::DeclaredFile>& files) {
  for (const auto& file : files) {
    fs::write_atomically(file.path, file.contents, file.mode, /*make_parents=*/true);
    spdlog::debug("wrote {} ({} bytes, mode {:04o})", file.path, file.contents.size(), file.mode);
  }
}

}  // namespace supervise::files
