// Azurite, the Azure storage emulator, for the azure:// tests: `azurite-blob` (installed
// by scripts/setup.sh into tools/azurite, found through AZURITE_BLOB_BIN) started on a
// free loopback port with its --location in a temporary directory, ready when it
// answers, stopped by its pid. The store is read back directly (azurite_client.py beside
// this file: SharedKey-signed Blob REST, standard library only), so that a test judges
// what the store holds: its blobs, their bytes, their committed and uncommitted blocks.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "store_check.hpp"

namespace test_support {

// Azurite's well-known development account (public, documented by Microsoft).
inline constexpr const char* kAzuriteAccount = "devstoreaccount1";
inline constexpr const char* kAzuriteKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct BlobInfo {
  std::string name;
  std::uint64_t size = 0;
  std::string etag;
  std::string last_modified;
};

struct Block {
  std::string name;  // the block id, as listed (base64)
  std::uint64_t size = 0;
};

struct BlockList {
  std::vector<Block> committed;
  std::vector<Block> uncommitted;
};

class Azurite {
 public:
  Azurite();
  ~Azurite();
  Azurite(const Azurite&) = delete;
  Azurite& operator=(const Azurite&) = delete;

  // Empty when Azurite runs; else why not (not installed: run scripts/setup.sh). Every
  // user checks it (AzureEnv::SetUp fails each test with it).
  const std::string& problem() const { return problem_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // "http://127.0.0.1:PORT" (what a fault proxy forwards to).
  std::string root() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The blob endpoint of the development account: root()/devstoreaccount1.
  std::string endpoint() const { return root() + "/" + kAzuriteAccount; }

  // ---- the store read (and written) directly ----------------------------------------
  void create_container(const std::string& container) const;  // fails the test if it cannot
  // Every blob under `prefix`, sorted by name.
  std::vector<BlobInfo> list(const std::string& container, const std::string& prefix = "") const;
  // The bytes of a blob; nullopt when there is none; throws std::runtime_error otherwise.
  std::optional<std::string> get(const std::string& container, const std::string& blob) const;
  // Put Blob (one block blob) of `bytes`.
  void put(const std::string& container, const std::string& blob, const std::string& bytes) const;
  // Get Block List (blocklisttype=all); nullopt when there is no blob (nor staged blocks).
  std::optional<BlockList> block_list(const std::string& container, const std::string& blob) const;
  // Every blob under `prefix` at once, as a FetchObject (store_check.hpp) for the
  // checkpoint at azure://devstoreaccount1/<container>/<prefix>: keys relative to it.
  FetchObject fetch(const std::string& container, const std::string& prefix) const;

  // ---- tokens ---------------------------------------------------------------------
  // An account SAS for the blob service (sv=2019-12-12, ss=b, srt=sco), without '?'.
  std::string account_sas(const std::string& permissions = "rwdlacup") const;
  // A service SAS for one container (sr=c).
  std::string service_sas(const std::string& container, const std::string& permissions = "rwdlac") const;

  // ---- the environment a user would set for supervise -------------------------------
  // AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY + AZURE_STORAGE_SERVICE_ENDPOINT.
  std::vector<std::string> shared_key_env(const std::string& endpoint = "",
                                          const std::string& key = kAzuriteKey) const;
  // AZURE_STORAGE_CONNECTION_STRING with AccountName, AccountKey and BlobEndpoint.
  std::vector<std::string> connection_string_env(const std::string& endpoint = "",
                                                 const std::string& key = kAzuriteKey) const;
  // AZURE_STORAGE_SAS_TOKEN + AZURE_STORAGE_SERVICE_ENDPOINT.
  std::vector<std::string> sas_env(const std::string& sas, const std::string& endpoint = "") const;

  // azurite_client.py with the given arguments (after --endpoint).
  Run client(const std::vector<std::string>& args) const;

 private:
  std::string problem_;
  int port_ = 0;
  pid_t pid_ = -1;
  TempDir location_;
  TempDir log_dir_;
};

// Every variable that could steer supervise's azure:// store (or another store) elsewhere
// than the test says: removed from the environment of each run.
const std::vector<std::string>& foreign_azure_env();

// tests/tools/faultproxy.py in front of Azurite (the fault proxy's rules, actions and
// log: see its docstring). Killed by pid when the object goes.
class AzureFaultProxy {
 public:
  explicit AzureFaultProxy(const Azurite& azurite, nlohmann::json rules = nlohmann::json::array());
  AzureFaultProxy(const AzureFaultProxy&) = delete;
  AzureFaultProxy& operator=(const AzureFaultProxy&) = delete;

  int port() const { return port_; }
  // The blob endpoint through the proxy: http://127.0.0.1:PROXY/devstoreaccount1.
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + kAzuriteAccount; }
  void set_rules(const nlohmann::json& rules);
  std::vector<nlohmann::json> requests() const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Started> process_;
};

// One Azurite per suite; each test uses its own container, named after the test.
class AzureEnv : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  // Each test fails at once when the suite's Azurite does not run.
  void SetUp() override;
  static const Azurite& azurite() { return *azurite_; }
  // A fresh container named after the test (lowercase letters, digits and '-', 3-63).
  std::string container();

 private:
  static inline Azurite* azurite_ = nullptr;
};

}  // namespace test_support
