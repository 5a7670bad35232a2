// The test tooling that fault tests use to judge the STORE (tests/support): the store
// verifier (store_check.hpp) and the versioned file contents (versioned.hpp). Both must
// be able to fail: a store or a copy built by hand to be wrong must be caught, with a
// message that names the key and what differs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store_check.hpp"
#include "supervise/checkpoint/crc32c.hpp"
#include "versioned.hpp"

namespace test_support {
namespace {

namespace stdfs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

class Dir {
 public:
  Dir() {
    std::string tmpl = (stdfs::temp_directory_path() / "store-check-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~Dir() {
    std::error_code ec;
    stdfs::remove_all(path_, ec);
  }
  const stdfs::path& path() const { return path_; }

 private:
  stdfs::path path_;
};

void put(const stdfs::path& path, const std::string& bytes) {
  stdfs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string get(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string crc_of(const std::string& bytes) {
  return supervise::checkpoint::crc32c_hex(supervise::checkpoint::crc32c(0, bytes.data(), bytes.size()));
}

json entry(const std::string& key, const std::string& bytes) {
  return {{"key", key}, {"size", bytes.size()}, {"mtime", "2026-12-05T10:00:00.123456789Z"}, {"crc32c", crc_of(bytes)}};
}

bool any_problem(const StoreCheck& c, std::initializer_list<std::string> parts) {
  for (const auto& p : c.problems) {
    bool all = true;
    for (const auto& part : parts) all = all && p.find(part) != std::string::npos;
    if (all) return true;
  }
  return false;
}

// A file:// store built by hand: <dir>/ck/{a, sub/b, sub/deeper/c} and the manifest
// <dir>/ck.manifest.json that vouches for all three.
class StoreCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [key, bytes] : files_) put(store() / key, bytes);
    manifest_ = {{"schema_version", 1},
                 {"path", "/x/ck"},
                 {"url", "file://" + store().string()},
                 {"round", 4},
                 {"final", false},
                 {"complete", true},
                 {"created_at", "2026-12-05T10:00:00.000Z"},
                 {"files", json::array()},
                 {"missing", json::array()}};
    for (const auto& [key, bytes] : files_) manifest_["files"].push_back(entry(key, bytes));
    write_manifest();
  }
  const stdfs::path& store() const { return dir_.path(); }
  void write_manifest() { put(store() / "ck.manifest.json", manifest_.dump() + "\n"); }
  StoreCheck check() { return check_store("ck.manifest.json", file_store_fetch(store())); }

  Dir dir_;
  std::vector<std::pair<std::string, std::string>> files_ = {
      {"ck/a", "the first file\n"},
      {"ck/sub/b", std::string(70'000, 'b') + "end"},
      {"ck/sub/deeper/c", std::string("\0\1\2\3 binary", 10)}};
  json manifest_;
};

TEST(StoreCheck, UsesTheCastagnoliCrc) {
  // The standard check value of CRC-32C: the checker compares with what S3 and the
  // product call crc32c, not another CRC.
  EXPECT_EQ(crc_of("123456789"), "e3069283");
}

TEST_F(StoreCheckTest, AGoodStorePasses) {
  StoreCheck c = check();
  EXPECT_TRUE(c.ok()) << c.report();
  EXPECT_TRUE(c.manifest_found);
  EXPECT_EQ(c.manifest["round"], 4);
  EXPECT_EQ(c.entries, 3u);
  EXPECT_EQ(c.vouched, 3u);
  EXPECT_EQ(c.objects_checked, 3u);
  EXPECT_EQ(c.in_progress, 0u);
  EXPECT_NE(c.report().find("no problems"), std::string::npos) << c.report();
}

TEST_F(StoreCheckTest, AFlippedByteIsACrcProblemOfThatKey) {
  std::string bytes = get(store() / "ck/sub/b");
  bytes[12345] ^= 0x01;
  put(store() / "ck/sub/b", bytes);
  StoreCheck c = check();
  EXPECT_FALSE(c.ok());
  ASSERT_EQ(c.problems.size(), 1u) << c.report();
  EXPECT_TRUE(any_problem(c, {"ck/sub/b", "crc32c differs", crc_of(files_[1].second), crc_of(bytes)})) << c.report();
  EXPECT_NE(c.report().find("ck/sub/b"), std::string::npos);
}

TEST_F(StoreCheckTest, ATruncatedObjectIsASizeProblem) {
  put(store() / "ck/a", "the first");
  StoreCheck c = check();
  EXPECT_FALSE(c.ok());
  ASSERT_EQ(c.problems.size(), 1u) << c.report();
  EXPECT_TRUE(any_problem(c, {"ck/a", "size differs", "15 bytes", "holds 9"})) << c.report();
}

TEST_F(StoreCheckTest, AMissingObjectIsCaught) {
  stdfs::remove(store() / "ck/sub/deeper/c");
  StoreCheck c = check();
  EXPECT_FALSE(c.ok());
  ASSERT_EQ(c.problems.size(), 1u) << c.report();
  EXPECT_TRUE(any_problem(c, {"ck/sub/deeper/c", "no object"})) << c.report();
}

TEST_F(StoreCheckTest, ADirectoryWhereAnObjectShouldBeIsNoObject) {
  stdfs::remove(store() / "ck/a");
  stdfs::create_directories(store() / "ck/a");
  StoreCheck c = check();
  EXPECT_TRUE(any_problem(c, {"ck/a", "no object"})) << c.report();
}

TEST_F(StoreCheckTest, NoManifestIsNotOk) {
  stdfs::remove(store() / "ck.manifest.json");
  StoreCheck c = check();
  EXPECT_FALSE(c.manifest_found);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.report().find("no manifest"), std::string::npos) << c.report();
}

TEST_F(StoreCheckTest, AManifestThatIsNotJsonIsAProblem) {
  put(store() / "ck.manifest.json", "{\"schema_version\": 1, \"files\": [");
  StoreCheck c = check();
  EXPECT_TRUE(c.manifest_found);
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(any_problem(c, {"not a JSON object"})) << c.report();
}

TEST_F(StoreCheckTest, AnEntryInProgressPromisesNothing) {
  manifest_["complete"] = false;
  manifest_["in_progress"] = true;
  manifest_["files"][1]["in_progress"] = true;
  manifest_["files"][1]["size"] = 1;  // whatever it says: not checked
  manifest_["files"][1]["crc32c"] = "00000000";
  manifest_["files"].push_back(json{{"key", "ck/new"}, {"size", 5}, {"crc32c", "12345678"}, {"in_progress", true}});
  manifest_["missing"] = json::array({"ck/new"});
  write_manifest();
  StoreCheck c = check();
  EXPECT_TRUE(c.ok()) << c.report();
  EXPECT_EQ(c.entries, 4u);
  EXPECT_EQ(c.vouched, 2u);
  EXPECT_EQ(c.in_progress, 2u);
  EXPECT_EQ(c.objects_checked, 2u);
}

TEST_F(StoreCheckTest, AnEntryNotInProgressIsCheckedEvenIfTheRoundHadNotEnded) {
  manifest_["complete"] = false;
  manifest_["in_progress"] = true;
  manifest_["files"][0]["in_progress"] = false;
  manifest_["files"][0]["crc32c"] = "00000000";
  write_manifest();
  StoreCheck c = check();
  EXPECT_TRUE(any_problem(c, {"ck/a", "crc32c differs", "00000000"})) << c.report();
}

TEST_F(StoreCheckTest, CompleteWithAnEntryInProgressIsAProblem) {
  manifest_["files"][2]["in_progress"] = true;
  write_manifest();
  StoreCheck c = check();
  EXPECT_FALSE(c.ok());
  ASSERT_EQ(c.problems.size(), 1u) << c.report();
  EXPECT_TRUE(any_problem(c, {"ck/sub/deeper/c", "in progress", "complete"})) << c.report();
}

TEST_F(StoreCheckTest, CompleteWithMissingKeysIsAProblem) {
  manifest_["missing"] = json::array({"ck/d"});
  write_manifest();
  StoreCheck c = check();
  ASSERT_EQ(c.problems.size(), 1u) << c.report();
  EXPECT_TRUE(any_problem(c, {"complete", "missing", "ck/d"})) << c.report();
}

TEST_F(StoreCheckTest, CompleteWithARoundInProgressIsAProblem) {
  manifest_["in_progress"] = true;
  write_manifest();
  StoreCheck c = check();
  ASSERT_EQ(c.problems.size(), 1u) << c.report();
  EXPECT_TRUE(any_problem(c, {"complete", "in_progress"})) << c.report();
}

TEST_F(StoreCheckTest, MalformedEntriesAreProblems) {
  manifest_["files"][0]["crc32c"] = "1A2B3C4D";  // upper case
  manifest_["files"][1]["size"] = -1;
  manifest_["files"].push_back(manifest_["files"][2]);  // listed twice
  manifest_["files"][2]["in_progress"] = "yes";
  write_manifest();
  StoreCheck c = check();
  EXPECT_TRUE(any_problem(c, {"ck/a", "crc32c", "8 lowercase hex"})) << c.report();
  EXPECT_TRUE(any_problem(c, {"ck/sub/b", "size"})) << c.report();
  EXPECT_TRUE(any_problem(c, {"ck/sub/deeper/c", "listed twice"})) << c.report();
  EXPECT_TRUE(any_problem(c, {"ck/sub/deeper/c", "in_progress", "not a boolean"})) << c.report();
}

TEST_F(StoreCheckTest, KeyBase64WinsForANameThatIsNotUtf8) {
  const std::string exact = "ck/caf\xe9.bin";  // Latin-1 e-acute: not UTF-8
  const std::string bytes = "latin-1 name";
  put(store() / exact, bytes);
  json e = entry("ck/caf\xef\xbf\xbd.bin", bytes);  // U+FFFD in "key"
  e["key_base64"] = "Y2svY2Fm6S5iaW4=";              // base64 of the exact bytes
  manifest_["files"].push_back(e);
  write_manifest();
  StoreCheck c = check();
  EXPECT_TRUE(c.ok()) << c.report();
  EXPECT_EQ(c.objects_checked, 4u);

  // The exact object changed: the problem names it (bytes that are not ASCII as \xHH).
  put(store() / exact, "LATIN-1 name");
  c = check();
  EXPECT_TRUE(any_problem(c, {"ck/caf\\xe9.bin", "crc32c differs"})) << c.report();
  put(store() / exact, bytes);

  // Without key_base64 the U+FFFD key is fetched, and there is no such object.
  manifest_["files"][3].erase("key_base64");
  write_manifest();
  c = check();
  EXPECT_TRUE(any_problem(c, {"ck/caf\\xef\\xbf\\xbd.bin", "no object"})) << c.report();

  // key_base64 that is not base64.
  manifest_["files"][3]["key_base64"] = "Y2sv*w==";
  write_manifest();
  c = check();
  EXPECT_TRUE(any_problem(c, {"key_base64 is not base64"})) << c.report();
}

TEST(StoreCheck, FindsTemporariesAtAnyDepth) {
  Dir dir;
  put(dir.path() / "ck/a", "a");
  put(dir.path() / "ck/.a.tmp-Ab12Cd", "half of a");
  put(dir.path() / "ck/sub/deeper/.c.bin.tmp-x9Y8z7", "half of c");
  put(dir.path() / ".ck.manifest.json.tmp-000000", "{");
  // Not temporaries: no leading dot, 5 or 7 characters, a non-alphanumeric suffix.
  put(dir.path() / "ck/a.tmp-abcdef", "");
  put(dir.path() / "ck/.a.tmp-abcde", "");
  put(dir.path() / "ck/.a.tmp-abcdefg", "");
  put(dir.path() / "ck/.a.tmp-abc-de", "");
  stdfs::create_directories(dir.path() / "ck/.dir.tmp-abcdef");  // a directory
  EXPECT_EQ(file_store_temporaries(dir.path()),
            (std::vector<std::string>{".ck.manifest.json.tmp-000000", "ck/.a.tmp-Ab12Cd",
                                      "ck/sub/deeper/.c.bin.tmp-x9Y8z7"}));
  EXPECT_TRUE(file_store_temporaries(dir.path() / "nowhere").empty());
}

// ---- versioned contents ----------------------------------------------------------------

std::size_t blocks_of(std::uint64_t v) { return 2 + v % 5; }

TEST(Versioned, WholeVersionsPass) {
  for (std::uint64_t v = 0; v < 12; ++v) {
    std::string bytes = versioned_content("model.pt", v, blocks_of(v));
    ASSERT_EQ(bytes.size(), blocks_of(v) * kVersionedBlock);
    VersionCheck c = check_version("model.pt", bytes);
    EXPECT_TRUE(c.whole) << v << ": " << c.why;
    EXPECT_EQ(c.version, v);
    EXPECT_TRUE(c.why.empty());
  }
  // Deterministic, and each block differs between versions and between names.
  EXPECT_EQ(versioned_content("a", 3, 2), versioned_content("a", 3, 2));
  std::string v1 = versioned_content("a", 1, 3), v2 = versioned_content("a", 2, 3), b1 = versioned_content("b", 1, 3);
  for (std::size_t i = 0; i < 3; ++i) {
    auto at = i * kVersionedBlock + 100;  // filler, past the header
    EXPECT_NE(v1.substr(at, 64), v2.substr(at, 64)) << i;
    EXPECT_NE(v1.substr(at, 64), b1.substr(at, 64)) << i;
  }
}

TEST(Versioned, HalfOfOneVersionAndHalfOfTheNextIsTorn) {
  std::string v1 = versioned_content("f", 1, 4), v2 = versioned_content("f", 2, 4);
  // At a block boundary: the headers disagree.
  VersionCheck c = check_version("f", v1.substr(0, 2 * kVersionedBlock) + v2.substr(2 * kVersionedBlock));
  EXPECT_FALSE(c.whole);
  EXPECT_EQ(c.version, 1u);
  EXPECT_NE(c.why.find("mixed versions"), std::string::npos) << c.why;
  EXPECT_NE(c.why.find("block 2"), std::string::npos) << c.why;
  // Within a block: block 1's header is version 2's, its filler then goes on as version 1's.
  const std::size_t cut = kVersionedBlock + 1000;
  c = check_version("f", v2.substr(0, cut) + v1.substr(cut));
  EXPECT_FALSE(c.whole);
  EXPECT_EQ(c.version, 2u);
  EXPECT_NE(c.why.find("bad filler: block 1"), std::string::npos) << c.why;
  EXPECT_NE(c.why.find("byte " + std::to_string(cut)), std::string::npos) << c.why;
}

TEST(Versioned, AWrongSizeIsTorn) {
  std::string v3 = versioned_content("f", 3, blocks_of(3));  // 5 blocks
  std::string v4 = versioned_content("f", 4, blocks_of(4));  // 6 blocks
  for (const std::string& bytes : {v3.substr(0, v3.size() - kVersionedBlock), v3.substr(0, v3.size() - 1),
                                   v3 + "x", v3 + v3.substr(0, kVersionedBlock), v3.substr(0, 100)}) {
    VersionCheck c = check_version("f", bytes);
    EXPECT_FALSE(c.whole) << bytes.size();
    EXPECT_EQ(c.version, 3u);
    EXPECT_NE(c.why.find("wrong size for version 3"), std::string::npos) << c.why;
  }
  // A shorter version written over a longer one, before the ftruncate: new blocks, then
  // the old tail.
  std::string v5 = versioned_content("f", 5, blocks_of(5));  // 2 blocks
  VersionCheck c = check_version("f", v5 + v4.substr(v5.size()));
  EXPECT_FALSE(c.whole);
  EXPECT_NE(c.why.find("mixed versions"), std::string::npos) << c.why;
  EXPECT_FALSE(check_version("f", "").whole);
  EXPECT_FALSE(check_version("f", std::string(kVersionedBlock, 'x')).whole);
}

TEST(Versioned, AnotherFilesVersionIsNotThisFile) {
  VersionCheck c = check_version("f", versioned_content("g", 1, 2));
  EXPECT_FALSE(c.whole);
  EXPECT_NE(c.why.find("other name"), std::string::npos) << c.why;
  // Same header, other name in a later block.
  std::string mixed = versioned_content("f", 1, 2);
  std::string other = versioned_content("g", 1, 2);
  c = check_version("f", mixed.substr(0, kVersionedBlock) + other.substr(kVersionedBlock));
  EXPECT_FALSE(c.whole);
  EXPECT_NE(c.why.find("other name at block 1"), std::string::npos) << c.why;
}

TEST(Versioned, RewriteInPlaceEndsAsTheNewVersion) {
  Dir dir;
  auto path = dir.path() / "f";
  rewrite_in_place(path, versioned_content("f", 1, 6), 5000, 0us);
  EXPECT_TRUE(check_version("f", get(path)).whole);
  rewrite_in_place(path, versioned_content("f", 2, 2), 3000, 10us);  // shorter: truncated
  VersionCheck c = check_version("f", get(path));
  EXPECT_TRUE(c.whole) << c.why;
  EXPECT_EQ(c.version, 2u);
}

// The writer really tears: a reader racing rewrite_in_place sees a copy that is not one
// whole version (the product's tests rely on this to prove they catch a torn upload).
TEST(Versioned, ARacingReaderSeesATornCopy) {
  Dir dir;
  auto path = dir.path() / "f";
  rewrite_in_place(path, versioned_content("f", 0, blocks_of(0)), 1 << 20, 0us);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t v = 1; !stop; ++v) rewrite_in_place(path, versioned_content("f", v, blocks_of(v)), 3000, 200us);
  });
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::size_t reads = 0, whole = 0;
  std::string torn_why;
  while (std::chrono::steady_clock::now() < deadline && torn_why.empty()) {
    VersionCheck c = check_version("f", get(path));
    ++reads;
    if (c.whole)
      ++whole;
    else
      torn_why = c.why;
  }
  stop = true;
  writer.join();
  EXPECT_FALSE(torn_why.empty()) << "no torn read in " << reads << " reads in 20 s";
  std::cout << "torn after " << reads << " reads (" << whole << " whole): " << torn_why << "\n";
}

}  // namespace
}  // namespace test_support
