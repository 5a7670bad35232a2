// The s3:// store (SPEC.md "Checkpoints", "Data stores") against a real S3 server:
// moto_server on loopback. The built supervise binary checkpoints to it and every object
// is read back with the AWS CLI (or the project's own GET); one suite runs with moto's
// request authentication on, so a wrong signature fails the test.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "moto.hpp"
#include "supervise/checkpoint/crc32c.hpp"
#include "supervise/s3/client.hpp"
#include "supervise/s3/config.hpp"
#include "supervise/s3/curl_api.hpp"
#include "supervise/s3/request.hpp"
#include "supervise/s3/store.hpp"

namespace {

using namespace test_support;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kKey = "AKIDMOTOTEST";
constexpr const char* kSecret = "moto/secret+key";

// --- helpers -------------------------------------------------------------------------


// Variables of the test's own environment that would steer a client elsewhere.
const std::vector<std::string> kForeignAwsEnv = {"AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
                                                 "AWS_CONFIG_FILE"};

std::vector<std::string> env_for(const MotoServer& moto, const std::string& key, const std::string& secret,
                                 const std::string& token = "") {
  return {"AWS_ACCESS_KEY_ID=" + key,          "AWS_SECRET_ACCESS_KEY=" + secret,
          "AWS_SESSION_TOKEN=" + token,        "AWS_ENDPOINT_URL=" + moto.endpoint(),
          "AWS_DEFAULT_REGION=us-east-1",      "AWS_REGION=us-east-1",
          "AWS_PAGER="};
}

// The AWS CLI with the given credentials (MotoServer::aws always uses its defaults).
Run aws_as(const MotoServer& moto, const std::vector<std::string>& args, const std::string& key,
           const std::string& secret, const std::string& token = "") {
  RunOptions o;
  o.program = find_in_path("aws");
  o.env = env_for(moto, key, secret, token);
  o.unset_env = kForeignAwsEnv;
  return run(args, o);
}

std::optional<std::string> get_as(const MotoServer& moto, const std::string& bucket, const std::string& key,
                                  const std::string& id, const std::string& secret) {
  TempDir dir;
  test_support::Run r = aws_as(moto, {"s3api", "get-object", "--bucket", bucket, "--key", key, dir / "object"}, id, secret);
  if (r.exit_code != 0) return std::nullopt;
  return read_file(dir / "object");
}

json aws_json(const MotoServer& moto, const std::vector<std::string>& args, const std::string& key = kKey,
              const std::string& secret = kSecret) {
  std::vector<std::string> all = args;
  all.insert(all.end(), {"--output", "json"});
  test_support::Run r = aws_as(moto, all, key, secret);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0 || r.out.find_first_not_of(" \n") == std::string::npos) return json::object();
  return json::parse(r.out);
}

// Deterministic bytes that are not all alike (every byte value, no repeating period).
std::string pattern(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

std::string crc_hex(const std::string& data) {
  return supervise::checkpoint::crc32c_hex(supervise::checkpoint::crc32c(0, data.data(), data.size()));
}

RunOptions supervise_options(std::vector<std::string> env) {
  RunOptions o;
  o.env = std::move(env);
  o.unset_env = kForeignAwsEnv;
  o.timeout = milliseconds(60'000);
  return o;
}

// supervise --status-file STATUS --checkpoint SPEC [extra...] -- COMMAND...
Run checkpoint(const std::vector<std::string>& env, const std::string& status, const std::string& spec,
               const std::vector<std::string>& command = {"true"}, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = extra;
  args.insert(args.end(), {"--status-file", status, "--checkpoint", spec, "--"});
  args.insert(args.end(), command.begin(), command.end());
  return run(args, supervise_options(env));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct RoundLine {
  int number;
  int stored;
  int unchanged;
};
std::vector<RoundLine> round_lines(const std::string& log) {
  static const std::regex re(R"(Checkpoint round (\d+) of .*: (\d+) stored, (\d+) unchanged)");
  std::vector<RoundLine> out;
  for (const auto& line : lines(log)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out.push_back({std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])});
  }
  return out;
}

// A client of the project's own, configured from the environment a user would set.
std::unique_ptr<supervise::s3::Client> make_client(const MotoServer& moto, const std::string& key = kKey,
                                                   const std::string& secret = kSecret, const std::string& token = "",
                                                   supervise::s3::ClientOptions options = {}) {
  std::map<std::string, std::string> vars;
  for (const auto& e : env_for(moto, key, secret, token)) vars[e.substr(0, e.find('='))] = e.substr(e.find('=') + 1);
  auto config = supervise::s3::resolve_config(
      [&](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
      },
      [](const std::string&) { return std::nullopt; });
  EXPECT_TRUE(config.ok()) << config.error();
  std::string error;
  const supervise::s3::CurlApi* curl = supervise::s3::load_curl(error);
  EXPECT_NE(curl, nullptr) << error;
  if (!config.ok() || curl == nullptr) return nullptr;
  return std::make_unique<supervise::s3::Client>(*config, *curl, options);
}

// A loopback port that takes connections (listen) but is never served: tells whether
// anybody connected.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      ADD_FAILURE() << "cannot listen on loopback";
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd_); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool connected() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c >= 0) ::close(c);
    return c >= 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// --- checkpoints without request authentication -----------------------------------

class S3Store : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    moto_ = new MotoServer();
    for (const char* b : {"ckpt", "ckpt-root", "ckpt-versions"}) moto_->make_bucket(b);
    test_support::Run v = moto_->aws({"s3api", "put-bucket-versioning", "--bucket", "ckpt-versions",
                        "--versioning-configuration", "Status=Enabled"});
    ASSERT_EQ(v.exit_code, 0) << v.err;
  }
  static void TearDownTestSuite() {
    delete moto_;
    moto_ = nullptr;
  }
  static const MotoServer& moto() { return *moto_; }
  static std::vector<std::string> env() { return env_for(*moto_, kKey, kSecret); }

  static MotoServer* moto_;
};
MotoServer* S3Store::moto_ = nullptr;

TEST_F(S3Store, SmallNestedAndOddNamesReadBackByteIdentical) {
  TempDir dir;
  // Relative path -> content. Names with every character S3 keys need encoded.
  std::map<std::string, std::string> files = {
      {"a.txt", "hello s3\n"},
      {"empty", ""},
      {"binary.bin", pattern(4096, 1)},
      {"nested/deep/down/b.bin", pattern(70'001, 2)},
      {"with space.txt", "space"},
      {"dir with space/x y+z.txt", "space dir"},
      {"plus+sign", "plus"},
      {"per%cent%20", "percent"},
      {"hash#tag", "hash"},
      {"question?mark", "question"},
      {"eq=ual", "equal"},
      {"amp&ersand", "ampersand"},
      {"ünïcødé/日本語 ファイル.txt", "unicode"},
      {"punct;,'()!*@$~[]{}^`", "punctuation"},
      {"looks-like-error.xml", "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>"},
  };
  std::uint64_t total = 0;
  for (const auto& [rel, content] : files) {
    write_file(dir / ("data/" + rel), content);
    total += content.size();
  }
  test_support::Run r = checkpoint(env(), dir / "s.json", "path=" + (dir / "data") + ",url=s3://ckpt/lvl1/lvl2/lvl3,frequency=1h");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json status = read_json(dir / "s.json");
  const json& final = status["checkpoints"][0]["final"];
  EXPECT_EQ(final["ok"], true) << r.err;
  EXPECT_EQ(final["files_stored"], files.size()) << r.err;
  EXPECT_EQ(final["bytes_stored"], total);
  EXPECT_EQ(status["checkpoints"][0]["url"], "s3://ckpt/lvl1/lvl2/lvl3");

  for (const auto& [rel, content] : files) {
    auto got = moto().get("ckpt", "lvl1/lvl2/lvl3/data/" + rel);
    ASSERT_TRUE(got.has_value()) << "no object for " << rel;
    EXPECT_TRUE(*got == content) << rel << ": " << got->size() << " bytes read back, " << content.size() << " stored";
  }

  // Nothing else under the prefix: exactly the files and the manifest.
  json listing = aws_json(moto(), {"s3api", "list-objects-v2", "--bucket", "ckpt", "--prefix", "lvl1/"});
  std::set<std::string> keys;
  for (const auto& o : listing["Contents"]) keys.insert(o["Key"].get<std::string>());
  std::set<std::string> expected = {"lvl1/lvl2/lvl3/data.manifest.json"};
  for (const auto& [rel, content] : files) expected.insert("lvl1/lvl2/lvl3/data/" + rel);
  EXPECT_EQ(keys, expected);

  // The manifest: every file by key, size and checksum; round 1, final, complete.
  auto text = moto().get("ckpt", "lvl1/lvl2/lvl3/data.manifest.json");
  ASSERT_TRUE(text.has_value());
  json manifest = json::parse(*text);
  EXPECT_EQ(manifest["round"], 1);
  EXPECT_EQ(manifest["final"], true);
  EXPECT_EQ(manifest["complete"], true);
  EXPECT_EQ(manifest["url"], "s3://ckpt/lvl1/lvl2/lvl3");
  EXPECT_EQ(manifest["path"], dir / "data");
  EXPECT_TRUE(manifest["missing"].empty()) << manifest["missing"];
  std::map<std::string, json> listed;
  for (const auto& f : manifest["files"]) listed[f["key"].get<std::string>()] = f;
  EXPECT_EQ(listed.size(), files.size());
  for (const auto& [rel, content] : files) {
    auto it = listed.find("data/" + rel);
    ASSERT_NE(it, listed.end()) << "manifest lacks data/" << rel;
    EXPECT_EQ(it->second["size"], content.size()) << rel;
    EXPECT_EQ(it->second["crc32c"], crc_hex(content)) << rel;
  }
}

TEST_F(S3Store, BucketWithoutPrefixAndASingleFile) {
  TempDir dir;
  write_file(dir / "data/a.txt", "root a");
  write_file(dir / "data/sub/b.txt", "root b");
  write_file(dir / "model.bin", pattern(10'000, 3));
  RunOptions o = supervise_options(env());
  test_support::Run r = run({"--status-file", dir / "s.json", "--checkpoint", "path=" + (dir / "data") + ",url=s3://ckpt-root,frequency=1h",
               "--checkpoint", "path=" + (dir / "model.bin") + ",url=s3://ckpt-root/single/,frequency=1h", "--", "true"},
              o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json status = read_json(dir / "s.json");
  EXPECT_EQ(status["checkpoints"][0]["final"]["ok"], true) << r.err;
  EXPECT_EQ(status["checkpoints"][1]["final"]["ok"], true) << r.err;
  EXPECT_EQ(status["checkpoints"][0]["url"], "s3://ckpt-root");
  EXPECT_EQ(moto().get("ckpt-root", "data/a.txt"), "root a");
  EXPECT_EQ(moto().get("ckpt-root", "data/sub/b.txt"), "root b");
  EXPECT_EQ(moto().get("ckpt-root", "single/model.bin"), pattern(10'000, 3));
  auto manifest = moto().get("ckpt-root", "data.manifest.json");
  ASSERT_TRUE(manifest.has_value());
  EXPECT_EQ(json::parse(*manifest)["files"].size(), 2u);
  // No key starts with '/' (an empty prefix adds no separator).
  json listing = aws_json(moto(), {"s3api", "list-objects-v2", "--bucket", "ckpt-root"});
  for (const auto& obj : listing["Contents"]) EXPECT_NE(obj["Key"].get<std::string>().front(), '/') << obj["Key"];
}

TEST_F(S3Store, PrefixSegmentsAreKeptLiterally) {
  // S3 keys are not paths: "a/./b/../c" names the key "a/./b/../c/...", as the AWS tools
  // store it, never "a/c/..." (curl squashes dot segments unless told not to).
  TempDir dir;
  write_file(dir / "data/f.txt", "dots");
  test_support::Run r = checkpoint(env(), dir / "s.json", "path=" + (dir / "data") + ",url=s3://ckpt/dot/./seg/../x,frequency=1h");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["checkpoints"][0]["final"]["ok"], true) << r.err;
  EXPECT_EQ(moto().get("ckpt", "dot/./seg/../x/data/f.txt"), "dots");
  EXPECT_EQ(moto().get("ckpt", "dot/x/data/f.txt"), std::nullopt);
}

TEST_F(S3Store, LargeFileGoesUpInPartsAndReadsBackIdentical) {
  TempDir dir;
  const std::size_t size = 70'000'000;  // above the 64 MiB threshold: 9 parts of 8 MiB
  std::string big = pattern(size, 4);
  write_file(dir / "data/big.bin", big);
  write_file(dir / "data/small.bin", "small");
  test_support::Run r = checkpoint(env(), dir / "s.json", "path=" + (dir / "data") + ",url=s3://ckpt/big,frequency=1h");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json final = read_json(dir / "s.json")["checkpoints"][0]["final"];
  EXPECT_EQ(final["ok"], true) << r.err;
  EXPECT_EQ(final["bytes_stored"], size + 5);

  json head = aws_json(moto(), {"s3api", "head-object", "--bucket", "ckpt", "--key", "big/data/big.bin"});
  EXPECT_EQ(head["ContentLength"], size);
  // A multipart ETag ends in "-<parts>": ceil(70,000,000 / 8 MiB) = 9.
  EXPECT_TRUE(contains(head.value("ETag", ""), "-9\"")) << head.dump();
  // The object is no form: it has the content type of a single PutObject.
  json small = aws_json(moto(), {"s3api", "head-object", "--bucket", "ckpt", "--key", "big/data/small.bin"});
  EXPECT_EQ(head["ContentType"], small["ContentType"]);
  EXPECT_EQ(head["ContentType"], "binary/octet-stream");

  auto got = moto().get("ckpt", "big/data/big.bin");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), size);
  EXPECT_TRUE(*got == big) << "the object read back differs from the file";

  json uploads = aws_json(moto(), {"s3api", "list-multipart-uploads", "--bucket", "ckpt"});
  EXPECT_FALSE(uploads.contains("Uploads") && !uploads["Uploads"].empty()) << uploads.dump();
}

TEST_F(S3Store, IncrementalRoundsStoreOnlyWhatChanged) {
  // A versioned bucket keeps every write: an unchanged file has one version, whatever
  // the clock resolution of LastModified.
  TempDir dir;
  write_file(dir / "data/a.txt", "first a");
  write_file(dir / "data/sub/b.txt", "b never changes");
  const std::string go = dir / "go";
  auto client = make_client(moto());
  ASSERT_NE(client, nullptr);
  auto manifest_round = [&]() -> int {
    auto o = client->get_object("ckpt-versions", "inc/data.manifest.json");
    if (!o.ok) return 0;
    auto doc = json::parse(o.body, nullptr, false);
    return doc.is_discarded() ? 0 : doc.value("round", 0);
  };

  auto task = start({"--status-file", dir / "s.json", "--checkpoint",
                     "path=" + (dir / "data") + ",url=s3://ckpt-versions/inc,frequency=1s", "--", "sh", "-c",
                     "while [ ! -e \"$0\" ]; do sleep 0.05; done", go},
                    supervise_options(env()));
  bool two_rounds = eventually([&] { return manifest_round() >= 2 || !task->running(); }, seconds(30)) &&
                    task->running();
  // The file changes (another size, renamed into place: no round reads half of it).
  write_file(dir / "a.tmp", "second version of a");
  std::filesystem::rename(dir / "a.tmp", dir / "data/a.txt");
  write_file(go, "");
  test_support::Run r = task->wait(seconds(60));
  ASSERT_TRUE(two_rounds) << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto rounds = round_lines(r.err);
  ASSERT_GE(rounds.size(), 3u) << r.err;
  EXPECT_EQ(rounds[0].stored, 2) << r.err;
  EXPECT_EQ(rounds[1].number, 2);
  EXPECT_EQ(rounds[1].stored, 0) << r.err;
  EXPECT_EQ(rounds[1].unchanged, 2) << r.err;
  int later = 0;
  for (std::size_t i = 2; i < rounds.size(); ++i) later += rounds[i].stored;
  EXPECT_EQ(later, 1) << "the changed file is stored once more, by one round\n" << r.err;

  json status = read_json(dir / "s.json");
  const json& entry = status["checkpoints"][0];
  EXPECT_EQ(entry["final"]["ok"], true) << r.err;
  EXPECT_EQ(entry["rounds"], rounds.size());

  json versions = aws_json(moto(), {"s3api", "list-object-versions", "--bucket", "ckpt-versions", "--prefix", "inc/"});
  std::map<std::string, std::vector<json>> by_key;
  for (const auto& v : versions["Versions"]) by_key[v["Key"].get<std::string>()].push_back(v);
  ASSERT_EQ(by_key["inc/data/sub/b.txt"].size(), 1u) << "b.txt was stored again: " << versions.dump(1);
  EXPECT_EQ(by_key["inc/data/a.txt"].size(), 2u) << versions.dump(1);
  // The manifest is stored by every round (its versions prove the rounds happened), and
  // once more by the round that replaced a.txt, marking it in progress first.
  EXPECT_EQ(by_key["inc/data.manifest.json"].size(), rounds.size() + 1) << versions.dump(1);
  EXPECT_EQ(moto().get("ckpt-versions", "inc/data/a.txt"), "second version of a");
  EXPECT_EQ(moto().get("ckpt-versions", "inc/data/sub/b.txt"), "b never changes");
  // LastModified of b.txt is still that of round 1: before the second manifest's.
  std::vector<std::string> manifest_times;
  for (const auto& v : by_key["inc/data.manifest.json"]) manifest_times.push_back(v["LastModified"]);
  std::sort(manifest_times.begin(), manifest_times.end());
  EXPECT_LE(by_key["inc/data/sub/b.txt"][0]["LastModified"].get<std::string>(), manifest_times.at(1));

  auto last = moto().get("ckpt-versions", "inc/data.manifest.json");
  ASSERT_TRUE(last.has_value());
  json manifest = json::parse(*last);
  EXPECT_EQ(manifest["final"], true);
  EXPECT_EQ(manifest["round"], rounds.size());
  for (const auto& f : manifest["files"])
    if (f["key"] == "data/a.txt") {
      EXPECT_EQ(f["size"], std::string("second version of a").size());
    }
}

TEST_F(S3Store, SessionTokenIsAccepted) {
  TempDir dir;
  write_file(dir / "data/t.txt", "token");
  test_support::Run r = checkpoint(env_for(moto(), kKey, kSecret, "FwoGZXIvYXdzEXAMPLE/session+token=="), dir / "s.json",
                     "path=" + (dir / "data") + ",url=s3://ckpt/token,frequency=1h");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["checkpoints"][0]["final"]["ok"], true) << r.err;
  EXPECT_EQ(moto().get("ckpt", "token/data/t.txt"), "token");
}

TEST_F(S3Store, CredentialsFromTheSharedFileAndProfile) {
  TempDir dir;
  write_file(dir / "data/c.txt", "from the file");
  write_file(dir / "creds", "[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n"
                            "# the one to use\n[profile ci]\naws_access_key_id = " +
                                std::string(kKey) + "\naws_secret_access_key = " + kSecret + "\n");
  RunOptions o = supervise_options({"AWS_ENDPOINT_URL=" + moto().endpoint(), "AWS_REGION=us-east-1",
                                    "AWS_SHARED_CREDENTIALS_FILE=" + (dir / "creds"), "AWS_PROFILE=ci"});
  o.unset_env = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"};
  test_support::Run r = run({"-v", "--status-file", dir / "s.json", "--checkpoint",
               "path=" + (dir / "data") + ",url=s3://ckpt/file-creds,frequency=1h", "--", "true"},
              o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["checkpoints"][0]["final"]["ok"], true) << r.err;
  EXPECT_EQ(moto().get("ckpt", "file-creds/data/c.txt"), "from the file");
  EXPECT_TRUE(contains(r.err, dir / "creds")) << "the debug log names where the credentials came from\n" << r.err;
  EXPECT_FALSE(contains(r.err, kSecret)) << r.err;
}

TEST_F(S3Store, NoSuchBucketFailsFastWithTheServersWords) {
  TempDir dir;
  write_file(dir / "data/a.txt", "a");
  RunOptions plain = supervise_options(env());
  test_support::Run baseline = run({"--status-file", dir / "base.json", "--", "sh", "-c", "exit 7"}, plain);
  test_support::Run r = checkpoint(env(), dir / "s.json", "path=" + (dir / "data") + ",url=s3://no-such-bucket-here/p,frequency=1h",
                     {"sh", "-c", "exit 7"}, {"-v"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_LT(r.elapsed, milliseconds(2000)) << "a 404 is not retried\n" << r.err;
  json status = read_json(dir / "s.json");
  EXPECT_EQ(status["exit_code"], 7);
  EXPECT_EQ(status["action"], read_json(dir / "base.json")["action"]);
  const json& final = status["checkpoints"][0]["final"];
  EXPECT_EQ(final["ok"], false);
  ASSERT_TRUE(final["error"].is_string());
  EXPECT_TRUE(contains(final["error"], "NoSuchBucket")) << final["error"];
  EXPECT_TRUE(contains(final["error"], "no-such-bucket-here")) << final["error"];
  // One attempt per request: neither the client (debug) nor the round (warning) retried.
  EXPECT_FALSE(contains(r.err, "attempt")) << r.err;
}

TEST_F(S3Store, SecretsNeverShowAtTraceLevel) {
  const std::string secret = "TraceSecret/Value+0123456789abcdefXYZ";
  const std::string token = "TraceSessionToken//Zm9vYmFy+EXAMPLE==";
  TempDir dir;
  write_file(dir / "data/a.txt", "a");
  write_file(dir / "data/b.txt", "b");
  // One run that stores, one that fails (a server error in the logs and the status).
  test_support::Run ok = checkpoint(env_for(moto(), "AKIDTRACE", secret, token), dir / "ok.json",
                      "path=" + (dir / "data") + ",url=s3://ckpt/trace,frequency=1h", {"true"}, {"-vv"});
  test_support::Run bad = checkpoint(env_for(moto(), "AKIDTRACE", secret, token), dir / "bad.json",
                       "path=" + (dir / "data") + ",url=s3://no-such-bucket-trace/x,frequency=1h", {"true"}, {"-vv"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(read_json(dir / "ok.json")["checkpoints"][0]["final"]["ok"], true) << ok.err;
  EXPECT_EQ(read_json(dir / "bad.json")["checkpoints"][0]["final"]["ok"], false) << bad.err;
  EXPECT_TRUE(contains(ok.err, "debug")) << "no debug lines: is -vv on?\n" << ok.err;
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"stderr", ok.err},
           {"stdout", ok.out},
           {"status", read_file(dir / "ok.json")},
           {"stderr (failed)", bad.err},
           {"stdout (failed)", bad.out},
           {"status (failed)", read_file(dir / "bad.json")}}) {
    EXPECT_FALSE(contains(text, secret)) << name << " shows the secret key:\n" << text;
    EXPECT_FALSE(contains(text, "TraceSecret")) << name << ":\n" << text;
    EXPECT_FALSE(contains(text, token)) << name << " shows the session token:\n" << text;
    EXPECT_FALSE(contains(text, "TraceSessionToken")) << name << ":\n" << text;
    EXPECT_FALSE(contains(text, "Signature=")) << name << " shows a signature:\n" << text;
    EXPECT_FALSE(contains(text, "AWS4-HMAC-SHA256")) << name << " shows an Authorization header:\n" << text;
  }
  EXPECT_EQ(read_json(dir / "ok.json")["checkpoints"][0]["url"], "s3://ckpt/trace");
  EXPECT_EQ(read_json(dir / "bad.json")["checkpoints"][0]["url"], "s3://no-such-bucket-trace/x");
}

TEST_F(S3Store, ClientPutThenGetIsByteIdentical) {
  auto client = make_client(moto());
  ASSERT_NE(client, nullptr);
  std::map<std::string, std::string> objects = {
      {"client/plain", "plain"},
      {"client/empty", ""},
      {"client/binary", pattern(300'000, 5)},
      {"client/with space + plus %25 #hash ?q=1&r=2", "odd"},
      {"client/ünï/日本", "unicode"},
      // An object that looks like an S3 error document is still just bytes.
      {"client/error.xml",
       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>not an error, data"
       "</Message></Error>"},
  };
  for (const auto& [key, data] : objects) {
    auto put = client->put_object("ckpt", key, supervise::s3::memory_body(data));
    ASSERT_TRUE(put.ok) << put.error;
    EXPECT_EQ(put.status, 200);
    EXPECT_FALSE(put.etag.empty()) << key;
  }
  for (const auto& [key, data] : objects) {
    auto get = client->get_object("ckpt", key);
    ASSERT_TRUE(get.ok) << key << ": " << get.error;
    EXPECT_TRUE(get.body == data) << key << ": " << get.body.size() << " bytes read back";
  }
  // The AWS CLI reads the same bytes under the same keys.
  EXPECT_EQ(moto().get("ckpt", "client/with space + plus %25 #hash ?q=1&r=2"), "odd");
  EXPECT_EQ(moto().get("ckpt", "client/error.xml"), objects["client/error.xml"]);

  auto missing = client->get_object("ckpt", "client/not-there");
  EXPECT_FALSE(missing.ok);
  EXPECT_FALSE(missing.retryable);
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(contains(missing.error, "NoSuchKey")) << missing.error;
  EXPECT_TRUE(contains(missing.error, "client/not-there")) << missing.error;
}

TEST_F(S3Store, StoreMultipartWithALowThreshold) {
  supervise::s3::ClientOptions options;
  options.multipart_threshold = 1 << 20;
  auto client = make_client(moto(), kKey, kSecret, "", options);
  ASSERT_NE(client, nullptr);
  supervise::s3::S3Store store(std::shared_ptr<supervise::s3::Client>(std::move(client)), "ckpt", "direct/mp");
  TempDir dir;
  std::string data = pattern((9u << 20) + 12345, 6);  // 8 MiB + the rest: 2 parts
  write_file(dir / "f.bin", data);
  auto put = store.put_file("f.bin", dir / "f.bin", {});
  ASSERT_TRUE(put.ok) << put.error;
  EXPECT_EQ(put.bytes, data.size());
  EXPECT_FALSE(put.changed);
  EXPECT_EQ(put.crc32c, supervise::checkpoint::crc32c(0, data.data(), data.size()));
  json head = aws_json(moto(), {"s3api", "head-object", "--bucket", "ckpt", "--key", "direct/mp/f.bin"});
  EXPECT_TRUE(contains(head.value("ETag", ""), "-2\"")) << head.dump();
  EXPECT_EQ(moto().get("ckpt", "direct/mp/f.bin"), data);

  auto bytes = store.put_bytes("m.json", "{\"x\": 1}", {});
  ASSERT_TRUE(bytes.ok) << bytes.error;
  EXPECT_EQ(bytes.bytes, 8u);
  EXPECT_EQ(moto().get("ckpt", "direct/mp/m.json"), "{\"x\": 1}");

  auto gone = store.put_file("gone.bin", dir / "no-such-file", {});
  EXPECT_FALSE(gone.ok);
  EXPECT_TRUE(gone.vanished) << gone.error;

  // A manifest reads back whole however large: 100,000 files make about 10 MB.
  std::string big = pattern(12u << 20, 7);
  ASSERT_TRUE(store.put_bytes("big.manifest.json", big, {}).ok);
  auto got = store.get_bytes("big.manifest.json", {});
  ASSERT_EQ(got.state, supervise::checkpoint::GetResult::State::kFound) << got.error;
  EXPECT_TRUE(got.data == big) << got.data.size() << " bytes read back of " << big.size();
  EXPECT_EQ(store.get_bytes("not-there.json", {}).state, supervise::checkpoint::GetResult::State::kNotFound);
}

// --- start-up ------------------------------------------------------------------------

TEST(S3StoreStartup, MissingCredentialsStopTheStartBeforeAnyRequest) {
  Listener server;
  TempDir dir;
  write_file(dir / "data/a.txt", "a");
  std::filesystem::create_directories(dir / "home");
  RunOptions o;
  o.env = {"HOME=" + (dir / "home"), "AWS_ENDPOINT_URL=" + server.endpoint(), "AWS_REGION=us-east-1"};
  o.unset_env = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_PROFILE", "AWS_ENDPOINT_URL_S3"};
  test_support::Run r = run({"--status-file", dir / "s.json", "--checkpoint",
               "path=" + (dir / "data") + ",url=s3://bucket/p,frequency=1h", "--", "touch", dir / "ran"},
              o);
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_TRUE(contains(r.err, "no S3 credentials")) << r.err;
  EXPECT_TRUE(contains(r.err, "AWS_ACCESS_KEY_ID")) << r.err;
  EXPECT_TRUE(contains(r.err, dir / "home/.aws/credentials")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "ran")) << "the command ran";
  json status = read_json(dir / "s.json");
  EXPECT_EQ(status["exit_code"], 125);
  EXPECT_TRUE(contains(status["error"].get<std::string>(), "no S3 credentials")) << status.dump();
  EXPECT_FALSE(server.connected()) << "a request was made";

  // Half a pair: the missing half is named, the present secret is not shown.
  o.env.push_back("AWS_SECRET_ACCESS_KEY=HalfPairSecretValue");
  o.unset_env.erase(o.unset_env.begin() + 1);
  test_support::Run half = run({"--status-file", dir / "h.json", "--checkpoint",
                  "path=" + (dir / "data") + ",url=s3://bucket/p,frequency=1h", "--", "touch", dir / "ran"},
                 o);
  EXPECT_EQ(half.exit_code, 125) << half.err;
  EXPECT_TRUE(contains(half.err, "AWS_ACCESS_KEY_ID")) << half.err;
  EXPECT_FALSE(contains(half.err + half.out + read_file(dir / "h.json"), "HalfPairSecretValue")) << half.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "ran"));
  EXPECT_FALSE(server.connected()) << "a request was made";
}

// --- moto's request authentication on ------------------------------------------------

// The setup (IAM user with a policy and an access key, a role to assume, the bucket)
// runs before moto checks anything; every request after it needs a valid SigV4
// signature of a known key with permission.
constexpr int kSetupActions = 7;

class S3StoreAuth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One more than the setup for moto's readiness probe, should it count.
    moto_ = new MotoServer({"INITIAL_NO_AUTH_ACTION_COUNT=" + std::to_string(kSetupActions + 1)});
    const std::string allow_all = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
    auto step = [](const test_support::Run& r) {
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return r.exit_code == 0;
    };
    bool ok = step(moto_->aws({"s3api", "create-bucket", "--bucket", "authb"})) &&
              step(moto_->aws({"iam", "create-user", "--user-name", "checkpointer"})) &&
              step(moto_->aws({"iam", "put-user-policy", "--user-name", "checkpointer", "--policy-name", "all",
                               "--policy-document", allow_all}));
    if (ok) {
      test_support::Run key = moto_->aws({"iam", "create-access-key", "--user-name", "checkpointer", "--output", "json"});
      ok = step(key);
      if (ok) {
        json k = json::parse(key.out)["AccessKey"];
        key_ = k["AccessKeyId"];
        secret_ = k["SecretAccessKey"];
      }
    }
    ok = ok &&
         step(moto_->aws({"iam", "create-role", "--role-name", "ckpt-role", "--assume-role-policy-document",
                          R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]})"})) &&
         step(moto_->aws({"iam", "put-role-policy", "--role-name", "ckpt-role", "--policy-name", "all",
                          "--policy-document", allow_all}));
    if (ok) {
      test_support::Run role = moto_->aws({"sts", "assume-role", "--role-arn", "arn:aws:iam::123456789012:role/ckpt-role",
                             "--role-session-name", "supervise-test", "--output", "json"});
      ok = step(role);
      if (ok) {
        json c = json::parse(role.out)["Credentials"];
        role_key_ = c["AccessKeyId"];
        role_secret_ = c["SecretAccessKey"];
        role_token_ = c["SessionToken"];
      }
    }
    // Use up what is left of the unauthenticated requests: a bogus key is refused once
    // moto checks signatures.
    auth_on_ = ok && eventually(
                         [] {
                           test_support::Run probe = aws_as(*moto_, {"s3api", "list-objects-v2", "--bucket", "authb"},
                                              "AKIDBOGUSPROBE", "bogus");
                           return probe.exit_code != 0 && contains(probe.err, "InvalidAccessKeyId");
                         },
                         seconds(30));
  }
  static void TearDownTestSuite() {
    delete moto_;
    moto_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(auth_on_) << "moto's authentication could not be set up"; }

  static MotoServer* moto_;
  static std::string key_, secret_, role_key_, role_secret_, role_token_;
  static bool auth_on_;
};
MotoServer* S3StoreAuth::moto_ = nullptr;
std::string S3StoreAuth::key_, S3StoreAuth::secret_, S3StoreAuth::role_key_, S3StoreAuth::role_secret_,
    S3StoreAuth::role_token_;
bool S3StoreAuth::auth_on_ = false;

// Names moto's own signature check can verify (it re-derives the path of keys with
// '+', '=', '&', '%', non-ASCII differently from SigV4, so even the AWS CLI's
// requests for them fail there; the suite above covers those names).
const std::map<std::string, std::string> kAuthFiles = {
    {"a.txt", "signed a"}, {"nested/deep/b.bin", pattern(50'000, 7)}, {"with space.txt", "signed space"},
    {"hash#tag", "signed hash"}, {"question?mark", "signed question"}, {"empty", ""}};

TEST_F(S3StoreAuth, ValidSignatureStoresAndWrongSecretFails) {
  TempDir dir;
  for (const auto& [rel, content] : kAuthFiles) write_file(dir / ("data/" + rel), content);
  const std::vector<std::string> command = {"sh", "-c", "exit 3"};
  const std::string spec = "path=" + (dir / "data") + ",url=s3://authb/run,frequency=1h";

  test_support::Run good = checkpoint(env_for(*moto_, key_, secret_), dir / "good.json", spec, command);
  EXPECT_EQ(good.exit_code, 3) << good.err;
  json good_status = read_json(dir / "good.json");
  EXPECT_EQ(good_status["checkpoints"][0]["final"]["ok"], true) << good.err;
  EXPECT_EQ(good_status["checkpoints"][0]["final"]["files_stored"], kAuthFiles.size()) << good.err;
  for (const auto& [rel, content] : kAuthFiles)
    EXPECT_EQ(get_as(*moto_, "authb", "run/data/" + rel, key_, secret_), content) << rel;
  EXPECT_TRUE(get_as(*moto_, "authb", "run/data.manifest.json", key_, secret_).has_value());

  const std::string wrong = "Wrong/Secret+Key0123456789wrongwrongwr";
  test_support::Run bad = checkpoint(env_for(*moto_, key_, wrong), dir / "bad.json",
                       "path=" + (dir / "data") + ",url=s3://authb/wrong,frequency=1h", command, {"-vv"});
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  json bad_status = read_json(dir / "bad.json");
  const json& final = bad_status["checkpoints"][0]["final"];
  EXPECT_EQ(final["ok"], false) << bad.err;
  EXPECT_EQ(final["files_stored"], 0);
  ASSERT_TRUE(final["error"].is_string());
  EXPECT_TRUE(contains(final["error"], "SignatureDoesNotMatch")) << final["error"];
  // The task's outcome is the same either way.
  EXPECT_EQ(bad_status["exit_code"], good_status["exit_code"]);
  EXPECT_EQ(bad_status["action"], good_status["action"]);
  EXPECT_EQ(bad_status["matched_rule"], good_status["matched_rule"]);
  // Nothing landed under the wrong key's prefix.
  json listing = aws_json(*moto_, {"s3api", "list-objects-v2", "--bucket", "authb", "--prefix", "wrong"}, key_, secret_);
  EXPECT_FALSE(listing.contains("Contents")) << listing.dump();
  for (const std::string& text : {bad.err, bad.out, read_file(dir / "bad.json")}) {
    EXPECT_FALSE(contains(text, wrong)) << text;
    EXPECT_FALSE(contains(text, secret_)) << text;
    EXPECT_FALSE(contains(text, "Signature=")) << text;
  }
}

TEST_F(S3StoreAuth, UnknownAccessKeyFails) {
  TempDir dir;
  write_file(dir / "data/a.txt", "a");
  test_support::Run r = checkpoint(env_for(*moto_, "AKIAUNKNOWNKEY000000", secret_), dir / "s.json",
                     "path=" + (dir / "data") + ",url=s3://authb/unknown,frequency=1h", {"sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const json final = read_json(dir / "s.json")["checkpoints"][0]["final"];
  EXPECT_EQ(final["ok"], false);
  EXPECT_TRUE(contains(final["error"].get<std::string>(), "InvalidAccessKeyId")) << final["error"];
  EXPECT_LT(r.elapsed, milliseconds(2000)) << "a 403 is not retried\n" << r.err;
}

TEST_F(S3StoreAuth, SessionTokenIsSignedAndChecked) {
  TempDir dir;
  write_file(dir / "data/t.txt", "assumed role");
  const std::string spec_base = "path=" + (dir / "data") + ",url=s3://authb/";
  test_support::Run good = checkpoint(env_for(*moto_, role_key_, role_secret_, role_token_), dir / "good.json",
                        spec_base + "role,frequency=1h", {"true"}, {"-vv"});
  ASSERT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(read_json(dir / "good.json")["checkpoints"][0]["final"]["ok"], true) << good.err;
  EXPECT_EQ(get_as(*moto_, "authb", "role/data/t.txt", key_, secret_), "assumed role");
  for (const std::string& text : {good.err, good.out, read_file(dir / "good.json")}) {
    EXPECT_FALSE(contains(text, role_token_)) << text;
    EXPECT_FALSE(contains(text, role_secret_)) << text;
  }

  // Another token: refused. No token: the temporary key alone is unknown.
  test_support::Run other = checkpoint(env_for(*moto_, role_key_, role_secret_, "not-the-token"), dir / "other.json",
                         spec_base + "role-other,frequency=1h");
  EXPECT_EQ(other.exit_code, 0) << other.err;
  const json other_final = read_json(dir / "other.json")["checkpoints"][0]["final"];
  EXPECT_EQ(other_final["ok"], false);
  EXPECT_TRUE(contains(other_final["error"].get<std::string>(), "InvalidToken")) << other_final["error"];

  test_support::Run none = checkpoint(env_for(*moto_, role_key_, role_secret_), dir / "none.json", spec_base + "role-none,frequency=1h");
  const json none_final = read_json(dir / "none.json")["checkpoints"][0]["final"];
  EXPECT_EQ(none_final["ok"], false);
  EXPECT_TRUE(contains(none_final["error"].get<std::string>(), "InvalidAccessKeyId")) << none_final["error"];
}

TEST_F(S3StoreAuth, MultipartRequestsAreSigned) {
  // CreateMultipartUpload ("?uploads="), UploadPart (sorted "partNumber&uploadId"),
  // CompleteMultipartUpload (XML body with its Content-Type), AbortMultipartUpload: each
  // must carry a signature moto accepts.
  supervise::s3::ClientOptions options;
  options.multipart_threshold = 1 << 20;
  auto client = make_client(*moto_, key_, secret_, "", options);
  ASSERT_NE(client, nullptr);
  auto shared = std::shared_ptr<supervise::s3::Client>(std::move(client));
  supervise::s3::S3Store store(shared, "authb", "mp");
  TempDir dir;
  std::string data = pattern((9u << 20) + 7, 8);
  write_file(dir / "f.bin", data);
  auto put = store.put_file("f.bin", dir / "f.bin", {});
  ASSERT_TRUE(put.ok) << put.error;
  EXPECT_EQ(get_as(*moto_, "authb", "mp/f.bin", key_, secret_), data);

  std::string upload_id;
  auto created = shared->create_multipart("authb", "mp/aborted", upload_id);
  ASSERT_TRUE(created.ok) << created.error;
  auto aborted = shared->abort_multipart("authb", "mp/aborted", upload_id);
  EXPECT_TRUE(aborted.ok) << aborted.error;
  json uploads = aws_json(*moto_, {"s3api", "list-multipart-uploads", "--bucket", "authb"}, key_, secret_);
  EXPECT_FALSE(uploads.contains("Uploads") && !uploads["Uploads"].empty()) << uploads.dump();

  // The same requests with a wrong secret are refused, each of them.
  auto wrong = make_client(*moto_, key_, "wrong-secret", "", options);
  ASSERT_NE(wrong, nullptr);
  std::string id;
  auto refused = wrong->create_multipart("authb", "mp/refused", id);
  EXPECT_FALSE(refused.ok);
  EXPECT_TRUE(contains(refused.error, "SignatureDoesNotMatch")) << refused.error;
}

// --- multipart failure: nothing dangles ----------------------------------------------

TEST(S3StoreMultipartFailure, AFailedUploadIsAbortedAndLeavesNothing) {
  // moto refuses to complete an upload whose parts (but the last) are below its minimum:
  // with 16 MiB, our 8 MiB parts fail CompleteMultipartUpload with EntityTooSmall.
  MotoServer moto({"S3_UPLOAD_PART_MIN_SIZE=" + std::to_string(16 << 20)});
  moto.make_bucket("mpfail");
  auto list_uploads = [&] {
    json j = aws_json(moto, {"s3api", "list-multipart-uploads", "--bucket", "mpfail"});
    return j.contains("Uploads") ? j["Uploads"].size() : 0u;
  };
  supervise::s3::ClientOptions options;
  options.multipart_threshold = 1 << 20;
  auto client = make_client(moto, kKey, kSecret, "", options);
  ASSERT_NE(client, nullptr);
  auto shared = std::shared_ptr<supervise::s3::Client>(std::move(client));

  // The listing does show an upload left open (so its emptiness below means something).
  std::string open_id;
  ASSERT_TRUE(shared->create_multipart("mpfail", "probe", open_id).ok);
  ASSERT_EQ(list_uploads(), 1u);
  ASSERT_TRUE(shared->abort_multipart("mpfail", "probe", open_id).ok);
  ASSERT_EQ(list_uploads(), 0u);

  supervise::s3::S3Store store(shared, "mpfail", "p");
  TempDir dir;
  write_file(dir / "f.bin", pattern((9u << 20) + 1, 9));
  auto put = store.put_file("f.bin", dir / "f.bin", {});
  EXPECT_FALSE(put.ok);
  EXPECT_FALSE(put.retryable) << put.error;
  EXPECT_TRUE(contains(put.error, "EntityTooSmall")) << put.error;
  EXPECT_TRUE(contains(put.error, "p/f.bin")) << put.error;
  EXPECT_EQ(put.bytes, 0u);
  EXPECT_EQ(list_uploads(), 0u) << "the failed upload was not aborted";
  test_support::Run head = moto.aws({"s3api", "head-object", "--bucket", "mpfail", "--key", "p/f.bin"});
  EXPECT_NE(head.exit_code, 0) << "a failed upload left an object";

  // Through supervise: the status says so, the task's code stays.
  write_file(dir / "data/big.bin", pattern(70'000'000, 10));
  test_support::Run r = checkpoint(moto.client_env(), dir / "s.json", "path=" + (dir / "data") + ",url=s3://mpfail/run,frequency=1h",
                     {"sh", "-c", "exit 5"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  const json final = read_json(dir / "s.json")["checkpoints"][0]["final"];
  EXPECT_EQ(final["ok"], false);
  EXPECT_TRUE(contains(final["error"].get<std::string>(), "EntityTooSmall")) << final["error"];
  EXPECT_EQ(list_uploads(), 0u) << "the failed upload was not aborted";
}

// Whether this process has `path` open (the store runs in the test's own process).
bool has_open(const std::string& path) {
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::error_code lec;
    if (std::filesystem::read_symlink(fd.path(), lec).string() == path) return true;
  }
  return false;
}

TEST_F(S3Store, AFileThatShrinksWhileUploadedIsRetriedNotStalled) {
  // The PutObject declares the size seen at open; the file then loses most of its bytes.
  // The transfer must end at once (nothing stored, "changed": stored again next round),
  // not wait for bytes that never come until the low-speed limit, attempt after attempt.
  supervise::s3::ClientOptions options;
  options.low_speed_time_s = 3;  // a stall shows within seconds, not minutes
  options.attempts = 2;
  auto client = make_client(moto(), kKey, kSecret, "", options);
  ASSERT_NE(client, nullptr);
  supervise::s3::S3Store store(std::shared_ptr<supervise::s3::Client>(std::move(client)), "ckpt", "shrink");
  TempDir dir;
  const std::string path = dir / "f.bin";
  write_file(path, pattern(48u << 20, 12));  // below the multipart threshold: one PutObject

  std::atomic<bool> truncated{false};
  std::thread shrinker([&] {
    if (eventually([&] { return has_open(path); }, seconds(10)) && ::truncate(path.c_str(), 1 << 20) == 0)
      truncated = true;
  });
  auto t0 = std::chrono::steady_clock::now();
  auto put = store.put_file("f.bin", path, {});
  auto elapsed = std::chrono::steady_clock::now() - t0;
  shrinker.join();
  ASSERT_TRUE(truncated) << "the file was not seen open";
  if (put.ok && !put.changed) GTEST_SKIP() << "the upload finished before the file shrank";
  EXPECT_LT(elapsed, seconds(3)) << "the upload of a shrunken file stalled";
  EXPECT_TRUE(put.ok) << put.error;
  EXPECT_TRUE(put.changed);
  EXPECT_EQ(put.bytes, 0u);
  EXPECT_EQ(moto().get("ckpt", "shrink/f.bin"), std::nullopt) << "a partial object was stored";

  // The next attempt stores the file as it is now.
  auto again = store.put_file("f.bin", path, {});
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.bytes, 1u << 20);
  EXPECT_EQ(moto().get("ckpt", "shrink/f.bin"), pattern(48u << 20, 12).substr(0, 1 << 20));

  // The same in parts: the upload is aborted, and that is no failure either.
  options.multipart_threshold = 1 << 20;
  auto mp_client = make_client(moto(), kKey, kSecret, "", options);
  ASSERT_NE(mp_client, nullptr);
  supervise::s3::S3Store mp_store(std::shared_ptr<supervise::s3::Client>(std::move(mp_client)), "ckpt", "shrink-mp");
  write_file(path, pattern(48u << 20, 13));  // 6 parts of 8 MiB
  truncated = false;
  std::thread mp_shrinker([&] {
    if (eventually([&] { return has_open(path); }, seconds(10)) && ::truncate(path.c_str(), 1 << 20) == 0)
      truncated = true;
  });
  auto mp = mp_store.put_file("f.bin", path, {});
  mp_shrinker.join();
  ASSERT_TRUE(truncated) << "the file was not seen open";
  if (mp.ok && !mp.changed) GTEST_SKIP() << "the upload finished before the file shrank";
  EXPECT_TRUE(mp.ok) << mp.error;
  EXPECT_TRUE(mp.changed);
  EXPECT_EQ(moto().get("ckpt", "shrink-mp/f.bin"), std::nullopt) << "a partial object was stored";
  json uploads = aws_json(moto(), {"s3api", "list-multipart-uploads", "--bucket", "ckpt"});
  EXPECT_FALSE(uploads.contains("Uploads") && !uploads["Uploads"].empty()) << uploads.dump();
}

}  // namespace
