// A main() for a fuzz target without libFuzzer: feeds every file named on the command
// line (or found in a directory named there) to LLVMFuzzerTestOneInput once; a path
// after --optional may be missing (a target without regressions yet). The ctest
// tests fuzz.replay.<target> build each target with the ordinary compiler and this, and
// replay its seed corpus and its regressions (fuzz/regressions/<target>/: inputs that
// once crashed it), so that a fixed crash stays fixed in the normal suite.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  bool optional = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--optional") == 0) {
      optional = true;
      continue;
    }
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(p))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else if (std::filesystem::exists(p)) {
      files.push_back(p);
    } else if (!optional) {
      std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      return 2;
    }
    optional = false;
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::fprintf(stderr, "replay: %zu inputs, no failure\n", files.size());
  return 0;
}
