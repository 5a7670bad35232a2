// The Azurite harness itself (azurite.hpp): the emulator starts, stores and serves a
// blob, lists blocks, takes the SAS tokens the tests make, and is gone after its stop.
#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "azurite.hpp"
#include "http_client.hpp"
#include "task_run.hpp"

namespace {

using namespace test_support;

class AzuriteHarness : public AzureEnv {};

TEST_F(AzuriteHarness, StartsAndStoresABlob) {
  std::string c = container();
  const std::string bytes = pseudo_random(70'000, 1);
  azurite().put(c, "run/data/a.bin", bytes);
  auto blobs = azurite().list(c, "run/");
  ASSERT_EQ(blobs.size(), 1u);
  EXPECT_EQ(blobs[0].name, "run/data/a.bin");
  EXPECT_EQ(blobs[0].size, bytes.size());
  EXPECT_FALSE(blobs[0].etag.empty());
  EXPECT_EQ(azurite().get(c, "run/data/a.bin"), bytes);
  EXPECT_EQ(azurite().get(c, "run/data/none"), std::nullopt);
  auto blocks = azurite().block_list(c, "run/data/a.bin");
  ASSERT_TRUE(blocks.has_value());
  EXPECT_TRUE(blocks->uncommitted.empty());
  EXPECT_FALSE(azurite().block_list(c, "run/data/none").has_value());
  FetchObject fetch = azurite().fetch(c, "run");
  EXPECT_EQ(fetch("data/a.bin"), bytes);
  EXPECT_EQ(fetch("data/none"), std::nullopt);
}

// The tokens the SAS tests give supervise: an account SAS and a container's service SAS
// list the container; the same token with its signature changed is refused (403).
TEST_F(AzuriteHarness, TakesTheSasTokensItMakes) {
  std::string c = container();
  auto list_with = [&](const std::string& sas) {
    HttpClient http(azurite().port());
    return http.request("GET", std::string("/") + kAzuriteAccount + "/" + c + "?restype=container&comp=list&" + sas)
        .status;
  };
  std::string account = azurite().account_sas();
  std::string service = azurite().service_sas(c);
  ASSERT_TRUE(contains(account, "sig=")) << account;
  EXPECT_EQ(list_with(account), 200);
  EXPECT_EQ(list_with(service), 200);
  std::string damaged = service;
  damaged.insert(damaged.find("sig=") + 4, "AAAA");
  EXPECT_EQ(list_with(damaged), 403);
}

TEST(AzuriteStop, StopsByPidAndLeavesNothing) {
  pid_t pid;
  {
    Azurite azurite;
    ASSERT_EQ(azurite.problem(), "");
    pid = azurite.pid();
    ASSERT_GT(pid, 0);
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
