// The azure:// store (SPEC.md "Data stores", "Checkpoints", "Restore") against Azurite:
// the built supervise binary checkpoints to azure://devstoreaccount1/<container>/run as
// a user would, and every outcome is judged by reading the store back (the manifest, each
// blob's bytes and CRC-32C, the committed and uncommitted blocks of a blob).
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "azure_task.hpp"
#include "azurite.hpp"
#include "harness.hpp"
#include "task_run.hpp"

namespace {

namespace fs = std::filesystem;
using namespace test_support;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class AzureStore : public AzureEnv {};

// Several files of several sizes, one in a sub-directory, one empty, one with a space.
std::map<std::string, std::string> some_files(const TempDir& dir, std::uint64_t seed) {
  std::map<std::string, std::string> files = {
      {"model.pt", pseudo_random(300'000, seed)},
      {"optimizer/state.bin", pseudo_random(50'000, seed + 1)},
      {"empty", ""},
      {"notes.txt", "epoch " + std::to_string(seed) + "\n"},
      {"sub dir/with space.txt", pseudo_random(1000, seed + 2)},
  };
  for (const auto& [rel, bytes] : files) write_file(dir / ("data/" + rel), bytes);
  return files;
}

bool put_to(const json& r, const std::string& blob) {
  std::string path = r.value("path", std::string());
  return r["method"] == "PUT" && path.size() >= blob.size() && path.compare(path.size() - blob.size(), blob.size(), blob) == 0;
}

// The secret parts of a SAS token (its signature, %-encoded as in the token and decoded).
std::vector<std::string> sas_secrets(const std::string& sas) {
  auto at = sas.find("sig=");
  std::string sig = sas.substr(at + 4, sas.find('&', at) - at - 4);
  std::string decoded;
  for (std::size_t i = 0; i < sig.size(); ++i) {
    if (sig[i] == '%' && i + 2 < sig.size()) {
      decoded += static_cast<char>(std::stoi(sig.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      decoded += sig[i];
    }
  }
  return {sig, decoded};
}

// No secret in the log (stdout and stderr) or in the status: the given strings, and no
// Authorization header's signature.
void expect_no_secret(const TaskRun& t, const std::vector<std::string>& secrets) {
  static const std::regex signature("SharedKey [a-z0-9]+:[A-Za-z0-9+/=]{20,}");
  for (const std::string& text : {t.run.err, t.run.out, t.status.dump()}) {
    for (const auto& secret : secrets) EXPECT_FALSE(contains(text, secret)) << "a secret is shown:\n" << text;
    EXPECT_FALSE(std::regex_search(text, signature)) << "a request signature is shown:\n" << text;
  }
}

TEST_F(AzureStore, UploadsEveryFileAndTheManifest) {
  std::string c = container();
  TempDir dir;
  auto files = some_files(dir, 1);
  TaskRun t = run_azure(dir, azurite().shared_key_env(), c);
  expect_task_outcome_unchanged(t);
  json final = checkpoint_status(t)["final"];
  EXPECT_EQ(final["ok"], true) << t.run.err;
  EXPECT_EQ(final["files_stored"], files.size()) << final.dump();
  EXPECT_EQ(checkpoint_status(t)["url"], azure_url(c));
  expect_stored(azurite(), c, files);
  // The blobs themselves, read one by one: the local bytes under run/data/.
  for (const auto& [rel, bytes] : files) EXPECT_EQ(azurite().get(c, "run/data/" + rel), bytes) << rel;
  std::set<std::string> names;
  for (const auto& b : azurite().list(c)) names.insert(b.name);
  EXPECT_TRUE(names.count("run/data.manifest.json")) << "no manifest blob";
  EXPECT_EQ(names.size(), files.size() + 1) << "blobs besides the files and the manifest";
}

// A second run over the same directory stores what changed and what is new; the files
// left alone are not uploaded again (no PUT reaches them; their ETags stay).
TEST_F(AzureStore, IncrementalRoundsStoreOnlyWhatChanged) {
  std::string c = container();
  TempDir dir;
  std::map<std::string, std::string> files = {{"a.bin", pseudo_random(40'000, 2)},
                                              {"b.bin", pseudo_random(40'000, 3)},
                                              {"c/c.bin", pseudo_random(4'000, 4)}};
  for (const auto& [rel, bytes] : files) write_file(dir / ("data/" + rel), bytes);
  AzureFaultProxy proxy(azurite());
  auto env = azurite().shared_key_env(proxy.endpoint());
  TaskRun first = run_azure(dir, env, c);
  ASSERT_EQ(checkpoint_status(first)["final"]["ok"], true) << first.run.err;
  std::map<std::string, std::string> etags;
  for (const auto& b : azurite().list(c, "run/")) etags[b.name] = b.etag;
  const std::size_t from = proxy.requests().size();

  files["b.bin"] = pseudo_random(41'000, 5);
  files["d.bin"] = pseudo_random(5'000, 6);
  for (const auto& rel : {"b.bin", "d.bin"}) write_file(dir / ("data/" + std::string(rel)), files[rel]);
  TaskRun second = run_azure(dir, env, c);
  json final = checkpoint_status(second)["final"];
  ASSERT_EQ(final["ok"], true) << second.run.err;
  EXPECT_EQ(final["files_stored"], 2) << final.dump();
  EXPECT_EQ(final["files_unchanged"], 2) << final.dump();
  auto all = proxy.requests();
  std::vector<json> phase(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
  for (const auto& rel : {"a.bin", "c/c.bin"}) {
    EXPECT_TRUE(where(phase, [&](const json& r) { return put_to(r, "/run/data/" + std::string(rel)); }).empty())
        << rel << " stored again\n" << summary(phase);
    for (const auto& b : azurite().list(c, "run/data/" + std::string(rel))) {
      if (b.name == "run/data/" + std::string(rel)) EXPECT_EQ(b.etag, etags[b.name]) << rel << " was replaced";
    }
  }
  for (const auto& rel : {"b.bin", "d.bin"})
    EXPECT_FALSE(where(phase, [&](const json& r) { return put_to(r, "/run/data/" + std::string(rel)); }).empty())
        << rel << " not stored\n" << summary(phase);
  expect_stored(azurite(), c, files);
}

// SPEC.md "Restore": a second run on a new node (an empty directory) with --restore gets
// every file of the manifest back, byte for byte, before the command starts.
TEST_F(AzureStore, RestoresIntoAnEmptyDirectory) {
  std::string c = container();
  TempDir dir;
  auto files = some_files(dir, 7);
  TaskRun first = run_azure(dir, azurite().shared_key_env(), c);
  ASSERT_EQ(checkpoint_status(first)["final"]["ok"], true) << first.run.err;
  fs::remove_all(dir / "data");

  // The command sees the files: it copies the tree as it found it.
  TaskRun t = run_azure(dir, azurite().shared_key_env(), c,
                        {.command = "cp -r " + dir / "data" + " " + dir / "seen; exit 3", .extra_args = {"--restore"}});
  expect_task_outcome_unchanged(t);
  json restore = checkpoint_status(t)["restore"];
  EXPECT_EQ(restore["ok"], true) << restore.dump() << "\n" << t.run.err;
  EXPECT_EQ(restore["files_restored"], files.size()) << restore.dump();
  EXPECT_EQ(restore["files_failed"], 0) << restore.dump();
  std::uint64_t bytes = 0;
  for (const auto& [rel, b] : files) bytes += b.size();
  EXPECT_EQ(restore["bytes_restored"], bytes) << restore.dump();
  EXPECT_EQ(local_files(dir.path() / "seen"), files);
  EXPECT_EQ(local_files(dir.path() / "data"), files);
  // Nothing changed since: the final round stores nothing again.
  EXPECT_EQ(checkpoint_status(t)["final"]["files_stored"], 0) << checkpoint_status(t).dump();
  expect_stored(azurite(), c, files);
}

// A 100 MiB file goes up in blocks (Put Block in parallel, one Put Block List): the blob
// is committed from several blocks, none is left uncommitted, its bytes are the file's;
// and it comes back whole through a restore.
TEST_F(AzureStore, AHundredMiBFileGoesUpInBlocks) {
  std::string c = container();
  TempDir dir;
  const std::string big = pseudo_random(100u << 20, 8);
  write_file(dir / "data/big.bin", big);
  TaskRun t = run_azure(dir, azurite().shared_key_env(), c, {.timeout = milliseconds(240'000)});
  expect_task_outcome_unchanged(t);
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  auto blocks = azurite().block_list(c, "run/data/big.bin");
  ASSERT_TRUE(blocks.has_value());
  EXPECT_GE(blocks->committed.size(), 2u) << "not committed from blocks";
  std::uint64_t sum = 0;
  std::set<std::string> ids;
  for (const auto& b : blocks->committed) {
    sum += b.size;
    ids.insert(b.name);
  }
  EXPECT_EQ(sum, big.size());
  EXPECT_EQ(ids.size(), blocks->committed.size()) << "a block id used twice";
  EXPECT_TRUE(blocks->uncommitted.empty()) << blocks->uncommitted.size() << " blocks left uncommitted";
  auto stored = azurite().get(c, "run/data/big.bin");
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(*stored == big) << "the blob is not the file's bytes (" << stored->size() << " bytes)";
  expect_stored(azurite(), c, {{"big.bin", big}});

  fs::remove_all(dir / "data");
  TaskRun r = run_azure(dir, azurite().shared_key_env(), c,
                        {.extra_args = {"--restore"}, .timeout = milliseconds(240'000)});
  json restore = checkpoint_status(r)["restore"];
  EXPECT_EQ(restore["ok"], true) << restore.dump() << "\n" << r.run.err;
  EXPECT_EQ(restore["files_restored"], 1) << restore.dump();
  EXPECT_TRUE(read_file(dir / "data/big.bin") == big) << "the restored file is not the blob's bytes";
}

int number_in(const std::string& path) {
  try {
    return std::stoi(fs::exists(path) ? read_file(path) : "");
  } catch (const std::exception&) {
    return -1;  // being written
  }
}

// A training script: resumes after the newest epoch file in <dir>/data, writes `epochs`
// more (one every 0.3 s).
std::string training(const TempDir& dir, int epochs) {
  return "ck=" + dir / "data" + "; mkdir -p $ck; "
         "last=$(ls $ck | sed -n 's/^epoch-\\([0-9]*\\)\\.pt$/\\1/p' | sort -n | tail -1); last=${last:-0}; "
         "echo $last > " + dir / "resumed-from" + "; e=$last; while [ $e -lt $((last + " + std::to_string(epochs) +
         ")) ]; do e=$((e + 1)); head -c 4096 /dev/urandom > " + dir / "tmp.pt" + " && mv " + dir / "tmp.pt" +
         " $ck/epoch-$e.pt; echo $e > " + dir / "epoch" + "; sleep 0.3; done";
}

// The preemption drill: periodic rounds while a job trains, SIGTERM, then a new node
// (an empty directory) restores and resumes from the newest epoch stored; what the store
// held is not uploaded again, and the new epochs join the manifest.
TEST_F(AzureStore, ThePreemptionDrill) {
  std::string c = container();
  TempDir dir;
  BackgroundTask first(dir, only(azurite().shared_key_env()), "",
                       azure_task(c, {.command = training(dir, 1000), .frequency = "1s",
                                      .extra_args = {"--grace-period", "20s"}}));
  ASSERT_TRUE(eventually([&] { return number_in(dir / "epoch") >= 6; }, seconds(30))) << first.log();
  first.signal(SIGTERM);
  TaskRun r1 = first.wait(milliseconds(60'000));
  json c1 = checkpoint_status(r1);
  ASSERT_EQ(c1["final"]["ok"], true) << r1.run.err;
  EXPECT_GE(c1["rounds"].get<int>(), 2) << c1.dump();
  StoreCheck stored = check_store("data.manifest.json", azurite().fetch(c, "run"));
  ASSERT_TRUE(stored.ok()) << stored.report();
  int last_stored = 0;
  std::set<std::string> keys;
  for (const auto& f : stored.manifest["files"]) {
    std::string key = f["key"];
    keys.insert(key);
    last_stored = std::max(last_stored, std::stoi(key.substr(key.find('-') + 1)));
  }
  ASSERT_GE(last_stored, 6);

  fs::remove_all(dir / "data");  // a new node
  AzureFaultProxy proxy(azurite());
  TaskRun r2 = run_azure(dir, azurite().shared_key_env(proxy.endpoint()), c,
                         {.command = training(dir, 5), .frequency = "1s", .extra_args = {"--restore"}});
  EXPECT_EQ(r2.run.exit_code, 0) << r2.run.err;
  EXPECT_EQ(number_in(dir / "resumed-from"), last_stored);
  json restore = checkpoint_status(r2)["restore"];
  EXPECT_EQ(restore["ok"], true) << restore.dump();
  EXPECT_EQ(restore["files_restored"], keys.size()) << restore.dump();
  for (const auto& r : proxy.requests())
    for (const auto& key : keys) EXPECT_FALSE(put_to(r, "/run/" + key)) << key << " stored again: " << describe(r);
  StoreCheck after = check_store("data.manifest.json", azurite().fetch(c, "run"));
  ASSERT_TRUE(after.ok()) << after.report();
  EXPECT_EQ(after.manifest["complete"], true);
  EXPECT_EQ(after.vouched, keys.size() + 5) << after.report();
  EXPECT_EQ(local_files(dir.path() / "data").size(), keys.size() + 5);
}

// A restore from a container that is not there: the task does not start (125), and the
// error names the service's code.
TEST_F(AzureStore, ARestoreFromNoSuchContainerFails) {
  TempDir dir;
  TaskRun t = run_azure(dir, azurite().shared_key_env(), "no-such-container",
                        {.command = "touch " + dir / "ran", .extra_args = {"--restore"}});
  EXPECT_EQ(t.run.exit_code, 125) << t.run.err;
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_EQ(t.status["action"], "FAIL");
  EXPECT_TRUE(contains(t.status["error"], "ContainerNotFound")) << t.status["error"];
}

// ---- credentials ------------------------------------------------------------------------

// One round with the given environment (at -vv: everything logged), judged by the store;
// nothing secret in the log or the status.
void round_with(const Azurite& azurite, const std::string& c, const std::vector<std::string>& env,
                const std::vector<std::string>& secrets) {
  TempDir dir;
  auto files = some_files(dir, 11);
  TaskRun t = run_azure(dir, env, c, {.extra_args = {"-vv"}});
  expect_task_outcome_unchanged(t);
  json final = checkpoint_status(t)["final"];
  EXPECT_EQ(final["ok"], true) << final.dump() << "\n" << t.run.err;
  EXPECT_EQ(final["files_stored"], files.size()) << final.dump();
  expect_stored(azurite, c, files);
  expect_no_secret(t, secrets);
}

TEST_F(AzureStore, SharedKeyStoresARound) {
  round_with(azurite(), container(), azurite().shared_key_env(), {kAzuriteKey});
}

TEST_F(AzureStore, ConnectionStringStoresARound) {
  round_with(azurite(), container(), azurite().connection_string_env(), {kAzuriteKey});
}

TEST_F(AzureStore, AccountSasStoresARound) {
  std::string sas = azurite().account_sas();
  auto secrets = sas_secrets(sas);
  secrets.push_back(kAzuriteKey);
  round_with(azurite(), container(), azurite().sas_env(sas), secrets);
}

TEST_F(AzureStore, AccountSasWithItsQuestionMarkStoresARound) {
  std::string sas = azurite().account_sas();
  round_with(azurite(), container(), azurite().sas_env("?" + sas), sas_secrets(sas));
}

TEST_F(AzureStore, ServiceSasOfTheContainerStoresARound) {
  std::string c = container();
  std::string sas = azurite().service_sas(c);
  round_with(azurite(), c, azurite().sas_env(sas), sas_secrets(sas));
}

TEST_F(AzureStore, ConnectionStringWithASasStoresARound) {
  std::string sas = azurite().account_sas();
  round_with(azurite(), container(),
             {"AZURE_STORAGE_CONNECTION_STRING=BlobEndpoint=" + azurite().endpoint() + ";SharedAccessSignature=" + sas},
             sas_secrets(sas));
}

// A wrong key: every request is refused (403), the round fails saying so, the task's
// outcome is unchanged, nothing is stored, and neither key shows in the log at -vv or
// in the status.
TEST_F(AzureStore, AWrongKeyFailsWithA403AndShowsNoSecret) {
  std::string c = container();
  TempDir dir;
  some_files(dir, 12);
  const std::string wrong = "V3JvbmdXcm9uZ1dyb25nV3JvbmdXcm9uZ1dyb25nV3JvbmdXcm9uZ1dyb25nV3Jvbmc=";
  TaskRun t = run_azure(dir, azurite().shared_key_env("", wrong), c, {.extra_args = {"-vv"}});
  expect_task_outcome_unchanged(t);
  json final = checkpoint_status(t)["final"];
  EXPECT_EQ(final["ok"], false) << final.dump();
  EXPECT_EQ(final["files_stored"], 0) << final.dump();
  ASSERT_TRUE(final["error"].is_string()) << final.dump();
  EXPECT_TRUE(contains(final["error"], "403")) << final["error"];
  EXPECT_TRUE(contains(t.run.err, "403")) << t.run.err;
  EXPECT_LT(t.run.elapsed, seconds(20)) << "a 403 is retried\n" << t.run.err;
  EXPECT_TRUE(azurite().list(c).empty()) << "stored with a wrong key";
  expect_no_secret(t, {wrong, kAzuriteKey});
}

// A SAS whose signature is not the account's: 403, and the token's signature is not shown.
TEST_F(AzureStore, ASasWithAWrongSignatureFailsWithA403AndShowsNoSecret) {
  std::string c = container();
  TempDir dir;
  some_files(dir, 13);
  std::string sas = azurite().account_sas();
  sas.insert(sas.find("sig=") + 4, "AAAA");
  TaskRun t = run_azure(dir, azurite().sas_env(sas), c, {.extra_args = {"-vv"}});
  expect_task_outcome_unchanged(t);
  json final = checkpoint_status(t)["final"];
  EXPECT_EQ(final["ok"], false) << final.dump();
  ASSERT_TRUE(final["error"].is_string()) << final.dump();
  EXPECT_TRUE(contains(final["error"], "403")) << final["error"];
  EXPECT_TRUE(azurite().list(c).empty()) << "stored with a wrong signature";
  expect_no_secret(t, sas_secrets(sas));
}

}  // namespace
