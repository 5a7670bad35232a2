// What the azure:// tests share: the task of tests/s3/task_run.hpp (a command that exits
// 3 under `--exit-action RESCHEDULE=3`, one checkpoint of <dir>/data) pointed at
// azure://devstoreaccount1/<container>/run, and the checks that judge the store by what
// it holds: the manifest and every blob against the local files.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "azurite.hpp"
#include "harness.hpp"
#include "store_check.hpp"
#include "supervise/checkpoint/crc32c.hpp"
#include "task_run.hpp"

namespace test_support {

inline std::string azure_url(const std::string& container, const std::string& prefix = "run") {
  return std::string("azure://") + kAzuriteAccount + "/" + container + "/" + prefix;
}

// The task's options with the checkpoint at azure_url(container).
inline TaskOptions azure_task(const std::string& container, TaskOptions options = {}) {
  options.url = azure_url(container);
  return options;
}

// Every AZURE_* variable the test does not set is set empty (an empty one counts as
// unset), so that the test's own environment cannot steer the store.
inline std::vector<std::string> only(std::vector<std::string> env) {
  for (const auto& name : foreign_azure_env()) {
    bool given = false;
    for (const auto& e : env) given = given || e.rfind(name + "=", 0) == 0;
    if (!given && name.rfind("AZURE_", 0) == 0) env.push_back(name + "=");
  }
  return env;
}

inline TaskRun run_azure(const TempDir& dir, const std::vector<std::string>& env, const std::string& container,
                         TaskOptions options = {}) {
  return run_task(dir, only(env), "", azure_task(container, std::move(options)));
}

inline std::string crc_hex(const std::string& data) {
  return supervise::checkpoint::crc32c_hex(supervise::checkpoint::crc32c(0, data.data(), data.size()));
}

// The regular files below `root`, by path relative to it, with their bytes.
inline std::map<std::string, std::string> local_files(const std::filesystem::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[std::filesystem::relative(e.path(), root).string()] = read_file(e.path());
  return out;
}

// The checkpoint of <dir>/data at azure_url(container) holds exactly `files`: its
// manifest (data.manifest.json) vouches for each with the local size and CRC-32C, says
// complete, and each blob run/data/<rel> has the local bytes (check_store compares each
// blob with its manifest line).
inline void expect_stored(const Azurite& azurite, const std::string& container,
                          const std::map<std::string, std::string>& files) {
  StoreCheck stored = check_store("data.manifest.json", azurite.fetch(container, "run"));
  ASSERT_TRUE(stored.ok()) << stored.report();
  EXPECT_EQ(stored.manifest["complete"], true) << stored.report();
  EXPECT_EQ(stored.vouched, files.size()) << stored.report();
  std::map<std::string, nlohmann::json> lines;
  for (const auto& f : stored.manifest["files"]) lines[f.value("key", std::string())] = f;
  for (const auto& [rel, bytes] : files) {
    auto it = lines.find("data/" + rel);
    ASSERT_NE(it, lines.end()) << rel << " is not in the manifest\n" << stored.report();
    EXPECT_EQ(it->second["size"], bytes.size()) << rel;
    EXPECT_EQ(it->second["crc32c"], crc_hex(bytes)) << rel;
  }
}

}  // namespace test_support
