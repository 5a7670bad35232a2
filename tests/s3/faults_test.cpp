// The S3 store under faults, and what it puts on the wire (issue 5, items 3, 4 and 7).
//
// tests/tools/faultproxy.py sits between supervise and a real moto server: it logs
// every request (method, target, headers as sent, body size, hash and head) as one JSON
// line, and on demand answers 503 SlowDown or 500, cuts connections mid-body, stalls,
// answers slowly, or refuses connections for the first seconds. Each test starts its
// own proxy (killed by pid when the test ends; it also ends by itself when idle or
// orphaned) in front of a moto server shared by the suite.
//
// Pitfall tests read the captured headers (the curl 7.88 SigV4 pitfalls). Fault tests
// run a task that exits 3 with `--exit-action RESCHEDULE=3`: whatever the store does,
// the task's exit code and action must stay 3 / RESCHEDULE; the final checkpoint must
// end byte-identical (read back from moto), or its status must say what is missing.
#include <gtest/gtest.h>
#include <strings.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "faultproxy.hpp"
#include "harness.hpp"
#include "moto.hpp"
#include "task_run.hpp"

namespace {

using namespace test_support;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr std::uint64_t kMultipartSize = 70'000'000;  // above the 64 MiB threshold: 9 parts of 8 MiB

// ---- small helpers ---------------------------------------------------------------------

std::string hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// The value of a header of a logged request (case-insensitive name).
std::optional<std::string> header(const json& request, const std::string& name) {
  for (const auto& h : request["headers"]) {
    std::string k = h[0];
    if (k.size() == name.size() && strncasecmp(k.c_str(), name.c_str(), k.size()) == 0) return h[1].get<std::string>();
  }
  return std::nullopt;
}

// "host;x-amz-content-sha256;x-amz-date" -> the names.
std::set<std::string> signed_headers(const json& request) {
  std::set<std::string> out;
  std::string auth = header(request, "authorization").value_or("");
  auto at = auth.find("SignedHeaders=");
  if (at == std::string::npos) return out;
  std::string list = auth.substr(at + 14, auth.find(',', at) - at - 14);
  for (std::size_t start = 0; start <= list.size();) {
    std::size_t end = list.find(';', start);
    if (end == std::string::npos) end = list.size();
    out.insert(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// ---- the task and its checkpoint -------------------------------------------------------

using Files = std::map<std::string, std::string>;  // relative path -> content

// A checkpoint directory `data` under `dir`: a few small files (nested), one of 2 MiB
// (> 1 MiB: sent with Expect: 100-continue), optionally one big enough for multipart.
Files make_files(const TempDir& dir, bool with_multipart, std::uint64_t seed = 1) {
  Files files = {{"a.txt", "the first file, seed " + std::to_string(seed) + "\n"},
                 {"sub/b.bin", pseudo_random(150'000, seed + 1)},
                 {"sub/deeper/c.bin", pseudo_random(300'000, seed + 2)},
                 {"mid.bin", pseudo_random(2u << 20, seed + 3)}};
  if (with_multipart) files["big.bin"] = pseudo_random(kMultipartSize, seed + 4);
  for (const auto& [rel, content] : files) write_file(dir.path() / "data" / rel, content);
  return files;
}

// Every file reads back from moto byte for byte, and the manifest says complete.
void expect_stored_identically(const MotoServer& moto, const std::string& bucket, const Files& files) {
  TempDir out;
  Run r = moto.aws({"s3", "cp", "--recursive", "--quiet", "--no-progress", "s3://" + bucket + "/run/data",
                    out.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& [rel, content] : files) {
    auto path = out.path() / rel;
    ASSERT_TRUE(std::filesystem::exists(path)) << rel << " is not in s3://" << bucket << "/run/data";
    std::string back = read_file(path);
    EXPECT_TRUE(back == content) << rel << ": " << back.size() << " bytes read back, " << content.size()
                                 << " written, or the same size with other bytes";
  }
  std::size_t objects = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(out.path());
       it != std::filesystem::recursive_directory_iterator(); ++it)
    objects += it->is_regular_file() ? 1 : 0;
  EXPECT_EQ(objects, files.size()) << "objects under run/data that were never local files";
  auto manifest = moto.get(bucket, "run/data.manifest.json");
  ASSERT_TRUE(manifest.has_value()) << "no manifest";
  json m = json::parse(*manifest);
  EXPECT_EQ(m["complete"], true) << *manifest;
  EXPECT_EQ(m["final"], true) << *manifest;
  EXPECT_EQ(m["files"].size(), files.size()) << *manifest;
}

// ---- the suites ------------------------------------------------------------------------

class S3Pitfall : public S3Env {};
class S3Fault : public S3Env {};

// Pitfalls (issue 5, item 3), read from the requests as the proxy received them: one
// checkpoint of a small file, a 2 MiB file and a multipart-sized file, with a session token.
TEST_F(S3Pitfall, HeadersQueriesAndBodiesAsS3WantsThem) {
  std::string b = bucket();
  FaultProxy proxy(moto());
  TempDir dir;
  Files files = make_files(dir, /*with_multipart=*/true);
  const std::string token = "FQoGZXIvYXdzEJr//////////session+token/with=odd";
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint(), token), b);
  expect_task_outcome_unchanged(t);
  EXPECT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  auto requests = proxy.requests();
  ASSERT_FALSE(requests.empty());

  for (const auto& r : requests) {
    SCOPED_TRACE(describe(r));
    // x-amz-content-sha256 always sent, and signed.
    auto sha = header(r, "x-amz-content-sha256");
    ASSERT_TRUE(sha.has_value());
    EXPECT_TRUE(*sha == "UNSIGNED-PAYLOAD" || sha->size() == 64) << *sha;
    auto names = signed_headers(r);
    EXPECT_TRUE(names.count("x-amz-content-sha256")) << header(r, "authorization").value_or("no Authorization");
    EXPECT_TRUE(names.count("host"));
    // The session token: sent, as given, and signed.
    EXPECT_EQ(header(r, "x-amz-security-token"), token);
    EXPECT_TRUE(names.count("x-amz-security-token"));
    // Bodies go up raw through the read callback, never as form data.
    auto type = header(r, "content-type").value_or("");
    EXPECT_FALSE(contains(type, "multipart/form-data")) << type;
    EXPECT_FALSE(contains(type, "x-www-form-urlencoded")) << type;
    if (r["method"] == "PUT") {
      EXPECT_EQ(header(r, "content-length"), std::to_string(r["body_bytes"].get<std::uint64_t>()));
      EXPECT_FALSE(header(r, "transfer-encoding").has_value());
    }
    // A large body waits for 100-continue (the header is not blanked).
    if (r["method"] == "PUT" && r["body_bytes"].get<std::uint64_t>() > (1u << 20)) {
      EXPECT_EQ(header(r, "expect"), "100-continue");
    }
  }

  // The single PUTs carry the files' bytes as they are.
  for (const std::string rel : {"a.txt", "mid.bin"}) {
    auto puts = where(requests, [&](const json& r) { return r["method"] == "PUT" && r["path"] == "/" + b + "/run/data/" + rel; });
    ASSERT_EQ(puts.size(), 1u) << rel << "\n" << summary(requests);
    EXPECT_EQ(puts[0]["query"], "");
    EXPECT_EQ(puts[0]["body_bytes"], files[rel].size());
    EXPECT_EQ(puts[0]["body_head_hex"], hex(files[rel].substr(0, 512))) << rel;
  }
  // Multipart: create is POST ?uploads=, parts carry partNumber=N&uploadId=X (sorted), the
  // complete goes with Content-Type: application/xml and the part list.
  auto creates = where(requests, is_create);
  ASSERT_EQ(creates.size(), 1u) << summary(requests);
  EXPECT_EQ(creates[0]["path"], "/" + b + "/run/data/big.bin");
  EXPECT_TRUE(creates[0]["target"].get<std::string>().ends_with("?uploads=")) << creates[0]["target"];
  auto parts = where(requests, is_part);
  ASSERT_EQ(parts.size(), 9u) << summary(requests);
  std::set<int> numbers;
  std::uint64_t part_bytes = 0;
  for (const auto& p : parts) {
    std::string q = p["query"];
    SCOPED_TRACE(q);
    ASSERT_TRUE(q.starts_with("partNumber=")) << "query parameters not sorted";
    auto amp = q.find("&uploadId=");
    ASSERT_NE(amp, std::string::npos);
    EXPECT_EQ(q.find('&', amp + 1), std::string::npos) << "more than two parameters";
    numbers.insert(std::stoi(q.substr(11, amp - 11)));
    part_bytes += p["body_bytes"].get<std::uint64_t>();
    if (p["body_bytes"].get<std::uint64_t>() > (1u << 20)) {
      EXPECT_EQ(header(p, "expect"), "100-continue");
    }
  }
  EXPECT_EQ(numbers, (std::set<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(part_bytes, kMultipartSize);
  auto completes = where(requests, is_complete);
  ASSERT_EQ(completes.size(), 1u) << summary(requests);
  EXPECT_EQ(header(completes[0], "content-type"), "application/xml");
  EXPECT_TRUE(signed_headers(completes[0]).count("content-type"));
  EXPECT_TRUE(completes[0]["body_head"].get<std::string>().find("<CompleteMultipartUpload") != std::string::npos)
      << completes[0]["body_head"];
  EXPECT_EQ(completes[0]["status"], 200);
  // Secrets stay out of the log and the status.
  for (const std::string& secret : {std::string("moto/secret+key"), token}) {
    EXPECT_FALSE(contains(t.run.err, secret));
    EXPECT_FALSE(contains(t.status.dump(), secret));
  }
  EXPECT_EQ(moto().get(b, "run/data/a.txt"), files["a.txt"]);
}

// Without AWS_SESSION_TOKEN no token header is sent or signed.
TEST_F(S3Pitfall, NoSessionTokenNoTokenHeader) {
  std::string b = bucket();
  FaultProxy proxy(moto());
  TempDir dir;
  write_file(dir / "data/only.txt", "only");
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(t);
  EXPECT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  auto requests = proxy.requests();
  // The stored manifest read, the uploads a killed run may have left listed, the file,
  // the manifest.
  ASSERT_EQ(requests.size(), 4u) << summary(requests);
  for (const auto& r : requests) {
    SCOPED_TRACE(describe(r));
    EXPECT_FALSE(header(r, "x-amz-security-token").has_value());
    EXPECT_FALSE(signed_headers(r).count("x-amz-security-token"));
    EXPECT_TRUE(signed_headers(r).count("x-amz-content-sha256"));
  }
}

// CreateMultipartUpload is a bodyless POST: left alone, curl labels it "Content-Type:
// application/x-www-form-urlencoded", and S3 keeps that as the object's type, so a file
// above 64 MiB would be stored as form data while a smaller one is binary/octet-stream.
// (Found by this test; fixed in src/s3/client.cpp.)
TEST_F(S3Pitfall, MultipartObjectIsNotLabelledFormData) {
  std::string b = bucket();
  FaultProxy proxy(moto());
  TempDir dir;
  write_file(dir / "data/small.bin", pseudo_random(1000, 9));
  write_file(dir / "data/big.bin", pseudo_random((64u << 20) + 1, 10));
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(t);
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  auto creates = where(proxy.requests(), is_create);
  ASSERT_EQ(creates.size(), 1u);
  auto type = header(creates[0], "content-type").value_or("");
  EXPECT_FALSE(contains(type, "form")) << "CreateMultipartUpload sent Content-Type: " << type;
  auto content_type = [&](const std::string& key) {
    test_support::Run r = moto().aws({"s3api", "head-object", "--bucket", b, "--key", key, "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json doc = json::parse(r.out, nullptr, false);
    return doc.is_discarded() ? std::string("?") : doc.value("ContentType", std::string("(none)"));
  };
  EXPECT_EQ(content_type("run/data/big.bin"), content_type("run/data/small.bin"));
}

// 503 SlowDown to 30% of all requests (seeded): every file and the manifest still land.
TEST_F(S3Fault, SlowDownToAShareOfRequests) {
  std::string b = bucket();
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "error"}, {"status", 503}, {"fraction", 0.3}, {"seed", 7}}})});
  TempDir dir;
  Files files = make_files(dir, /*with_multipart=*/false);
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(t);
  json c = checkpoint_status(t);
  EXPECT_EQ(c["final"]["ok"], true) << c.dump() << "\n" << t.run.err;
  EXPECT_EQ(c["final"]["files_stored"], files.size());
  EXPECT_EQ(c["final"]["files_failed"], 0);
  auto requests = proxy.requests();
  auto errors = where(requests, injected);
  EXPECT_GE(errors.size(), 2u) << "the fault was not injected:\n" << summary(requests);
  for (const auto& e : errors) EXPECT_EQ(e["status"], 503);
  // Each 503 was followed by another try of the same request.
  for (const auto& e : errors) {
    auto same = where(requests, [&](const json& r) { return r["target"] == e["target"] && r["n"] > e["n"]; });
    EXPECT_FALSE(same.empty()) << describe(e) << " was not retried\n" << summary(requests);
  }
  expect_stored_identically(moto(), b, files);
}

// 500 InternalError to every 3rd request, a multipart-sized file included.
TEST_F(S3Fault, InternalErrorToEveryThirdRequest) {
  std::string b = bucket();
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "error"}, {"status", 500}, {"every", 3}}})});
  TempDir dir;
  Files files = make_files(dir, /*with_multipart=*/true, 21);
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(t);
  json c = checkpoint_status(t);
  EXPECT_EQ(c["final"]["ok"], true) << c.dump() << "\n" << t.run.err;
  EXPECT_EQ(c["final"]["files_stored"], files.size());
  auto requests = proxy.requests();
  auto errors = where(requests, injected);
  EXPECT_EQ(errors.size(), requests.size() / 3) << summary(requests);
  for (const auto& e : errors) EXPECT_EQ(e["status"], 500);
  expect_stored_identically(moto(), b, files);
  EXPECT_TRUE(open_uploads(moto(), b, "run/").empty());
}

// Every 2nd PUT is cut mid-body (half the body read, then a RST), parts included: the
// cut parts are sent again, whole, and the objects are the files. One request is cut at
// most twice (of its 5 attempts): with parallel requests, "every 2nd" alone can land on
// the same part's every try, and then giving up is the right answer, not this test's.
TEST_F(S3Fault, ConnectionsCutMidBody) {
  std::string b = bucket();
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "cut"},
                                                   {"methods", {"PUT"}},
                                                   {"min_body", 2},
                                                   {"every", 2},
                                                   {"target_limit", 2}}})});
  TempDir dir;
  Files files = make_files(dir, /*with_multipart=*/true, 31);
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(t);
  json c = checkpoint_status(t);
  EXPECT_EQ(c["final"]["ok"], true) << c.dump() << "\n" << t.run.err;
  EXPECT_EQ(c["final"]["files_stored"], files.size());
  auto requests = proxy.requests();
  auto cuts = where(requests, injected);
  ASSERT_FALSE(cuts.empty()) << summary(requests);
  for (const auto& cut : cuts) {
    EXPECT_LT(cut["body_bytes"].get<std::uint64_t>(), std::stoull(header(cut, "content-length").value_or("0")));
  }
  // Part retries: a part cut mid-body went again, and its last try was whole.
  auto cut_parts = where(cuts, is_part);
  ASSERT_FALSE(cut_parts.empty()) << "no part was cut\n" << summary(requests);
  for (const auto& cut : cut_parts) {
    auto again = where(requests, [&](const json& r) {
      return r["target"] == cut["target"] && r["n"] > cut["n"] && r["action"] == "forward";
    });
    ASSERT_FALSE(again.empty()) << describe(cut) << " never went again\n" << summary(requests);
    EXPECT_EQ(again.back()["status"], 200);
    EXPECT_EQ(again.back()["body_bytes"], std::stoull(header(cut, "content-length").value_or("0")));
  }
  expect_stored_identically(moto(), b, files);
  EXPECT_TRUE(open_uploads(moto(), b, "run/").empty());
}

// The first requests stall (never answered) and the next is answered at 8 bytes/s: the
// low-speed limit (1024 B/s for 20 s) cuts them, the retries go through, and the round
// ends in bounded time.
TEST_F(S3Fault, StalledRequestsAreCutAndRetried) {
  std::string b = bucket();
  // The first three PUTs stall (the files of the round, in parallel; the manifest is
  // read first with a GET, which gets the slow answer instead).
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "stall"}, {"methods", {"PUT"}}, {"first", 3}},
                                                  {{"action", "slow"}, {"rate", 8}, {"first", 1}}})});
  TempDir dir;
  Files files = make_files(dir, /*with_multipart=*/false, 41);
  // Without a low-speed limit the round would hang: the run is cut (and fails) at 75 s.
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b, "exit 3", "60s", 75s);
  expect_task_outcome_unchanged(t);
  json c = checkpoint_status(t);
  EXPECT_EQ(c["final"]["ok"], true) << c.dump() << "\n" << t.run.err;
  // 20 s of low-speed limit, the retries and some slack for a busy machine; without the
  // limit the stalled requests would hang the round for the proxy's hour.
  EXPECT_LT(t.run.elapsed, 60s) << t.run.err;
  auto requests = proxy.requests();
  EXPECT_EQ(where(requests, [](const json& r) { return r["action"] == "stall"; }).size(), 3u) << summary(requests);
  EXPECT_EQ(where(requests, [](const json& r) { return r["action"] == "slow"; }).size(), 1u) << summary(requests);
  for (const auto& stalled : where(requests, injected)) {
    auto again = where(requests, [&](const json& r) {
      return r["target"] == stalled["target"] && r["n"] > stalled["n"] && r["action"] == "forward";
    });
    EXPECT_FALSE(again.empty()) << describe(stalled) << " was not retried\n" << summary(requests);
  }
  expect_stored_identically(moto(), b, files);
}

// Nothing listens for the first 2.5 s (connections refused): the first periodic round
// starts in that window (1 s after the command), the retries carry the uploads past it, the final round completes.
TEST_F(S3Fault, RefusedConnectionsAtFirst) {
  std::string b = bucket();
  FaultProxy proxy(moto(), {.refuse_seconds = 2.5, .refuse_mode = "unbound"});
  ASSERT_TRUE(port_refuses(proxy.port())) << "the proxy was not refusing when the task started";
  TempDir dir;
  Files files = make_files(dir, /*with_multipart=*/false, 51);
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b, "sleep 1.5; exit 3", "1s");
  expect_task_outcome_unchanged(t);
  json c = checkpoint_status(t);
  EXPECT_EQ(c["final"]["ok"], true) << c.dump() << "\n" << t.run.err;
  EXPECT_GE(c["rounds"].get<int>(), 2) << c.dump();  // a periodic round, then the final one
  EXPECT_GE(c["failed_rounds"].get<int>(), 0);       // the periodic round may have failed
  // The client met the refusal (request-level retries are logged at debug level).
  EXPECT_TRUE(contains(t.run.err, "Couldn't connect to server") || contains(t.run.err, "Could not connect"))
      << t.run.err;
  auto requests = proxy.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_GE(requests.front()["t"].get<double>(), 2.4) << "a request got through while refusing";
  EXPECT_LT(t.run.elapsed, 40s);
  expect_stored_identically(moto(), b, files);
}

// A server that always answers 503: nothing is stored, the status names every missing
// file and the counts, the retries are bounded, the task's outcome is untouched. Then
// the server recovers and the next run stores it all.
TEST_F(S3Fault, AlwaysSlowDownReportsWhatIsMissing) {
  std::string b = bucket();
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "error"}, {"status", 503}}})});
  TempDir dir;
  write_file(dir / "data/one.txt", "one");
  write_file(dir / "data/sub/two.bin", pseudo_random(200'000, 61));
  write_file(dir / "data/three four.txt", "three four");
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(t);
  json c = checkpoint_status(t);
  ASSERT_TRUE(c.contains("final")) << t.status.dump();
  json f = c["final"];
  EXPECT_EQ(f["ok"], false);
  EXPECT_EQ(f["files_failed"], 3) << f.dump();
  EXPECT_EQ(f["files_stored"], 0) << f.dump();
  EXPECT_EQ(c["rounds"], 1);
  EXPECT_EQ(c["failed_rounds"], 1);
  ASSERT_TRUE(f["error"].is_string()) << f.dump();
  std::string error = f["error"];
  EXPECT_TRUE(contains(error, "3 files not stored")) << error;
  EXPECT_TRUE(contains(error, "manifest not stored")) << error;
  for (const std::string key : {"run/data/one.txt", "run/data/sub/two.bin", "run/data/three four.txt"})
    EXPECT_TRUE(contains(error, key)) << key << " not named in: " << error;
  EXPECT_TRUE(contains(error, "503")) << error;
  EXPECT_TRUE(contains(error, "SlowDown")) << error;
  // Retried, a bounded number of times: a single request gets the client's 5 tries and
  // the round tries it 4 times: exactly 20 requests. The round reads the manifest first
  // (20 GETs). Not knowing what the store holds, it must store a manifest that vouches
  // for nothing before it replaces any file (20 PUTs); as that fails, no file is sent.
  // Last, the round's own manifest (20 PUTs).
  auto requests = proxy.requests();
  auto at = [&](const std::string& method, const std::string& key) {
    return where(requests, [&](const json& r) { return r["method"] == method && r["path"] == "/" + b + "/" + key; });
  };
  EXPECT_EQ(at("GET", "run/data.manifest.json").size(), 20u) << summary(requests);
  EXPECT_EQ(at("PUT", "run/data.manifest.json").size(), 40u) << summary(requests);
  for (const std::string rel : {"one.txt", "sub/two.bin", "three four.txt"})
    EXPECT_EQ(at("PUT", "run/data/" + rel).size(), 0u) << rel << "\n" << summary(requests);
  EXPECT_FALSE(moto().get(b, "run/data/one.txt").has_value());
  EXPECT_FALSE(moto().get(b, "run/data.manifest.json").has_value());

  // Next phase: the server recovers (the proxy's control file changes); the next run of
  // the task stores everything.
  proxy.set_rules(json::array());
  TaskRun again = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(again);
  EXPECT_EQ(checkpoint_status(again)["final"]["ok"], true) << again.run.err;
  expect_stored_identically(moto(), b,
                            {{"one.txt", "one"}, {"sub/two.bin", pseudo_random(200'000, 61)}, {"three four.txt", "three four"}});
}

// Part 2 of a multipart upload always fails (503): the big file is reported missing,
// every upload that was started is aborted (nothing dangles in moto), the rest lands.
TEST_F(S3Fault, MultipartPermanentFailureLeavesNoUpload) {
  std::string b = bucket();
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "error"},
                                                   {"status", 503},
                                                   {"methods", {"PUT"}},
                                                   {"query_regex", "^partNumber=2&"}}})});
  TempDir dir;
  std::string big = pseudo_random(kMultipartSize, 71);
  write_file(dir / "data/big.bin", big);
  write_file(dir / "data/small.txt", "small and fine");
  // The listing can see an open upload (so an empty one below means something).
  test_support::Run probe = moto().aws({"s3api", "create-multipart-upload", "--bucket", b, "--key", "probe/x", "--output", "json"});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;

  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(t);
  json c = checkpoint_status(t);
  json f = c["final"];
  EXPECT_EQ(f["ok"], false) << f.dump();
  EXPECT_EQ(f["files_failed"], 1) << f.dump();
  EXPECT_EQ(f["files_stored"], 1) << f.dump();
  std::string error = f.value("error", json()).is_string() ? f["error"].get<std::string>() : "";
  EXPECT_TRUE(contains(error, "1 file not stored")) << error;
  EXPECT_TRUE(contains(error, "run/data/big.bin")) << error;
  EXPECT_TRUE(contains(error, "503")) << error;
  EXPECT_FALSE(contains(error, "manifest")) << error;

  auto requests = proxy.requests();
  auto creates = where(requests, is_create);
  auto aborts = where(requests, is_abort);
  // The client retries the part (5 attempts); the round does not redo the whole upload on
  // top of that (what is missing goes to the next round): one upload, aborted.
  EXPECT_EQ(creates.size(), 1u) << summary(requests);
  EXPECT_EQ(aborts.size(), creates.size()) << summary(requests);
  for (const auto& a : aborts) EXPECT_EQ(a["status"], 204) << describe(a);
  EXPECT_EQ(where(requests, [](const json& r) { return is_part(r) && injected(r); }).size(), 5u)
      << "part 2 was not retried exactly as often as the client tries\n" << summary(requests);
  EXPECT_TRUE(where(requests, is_complete).empty());

  EXPECT_TRUE(open_uploads(moto(), b, "run/").empty()) << "dangling multipart uploads";
  EXPECT_EQ(open_uploads(moto(), b, "").size(), 1u) << "the probe upload should be listed";
  EXPECT_FALSE(moto().get(b, "run/data/big.bin").has_value());
  EXPECT_EQ(moto().get(b, "run/data/small.txt"), "small and fine");
  auto manifest = moto().get(b, "run/data.manifest.json");
  ASSERT_TRUE(manifest.has_value());
  json m = json::parse(*manifest);
  EXPECT_EQ(m["complete"], false);
  EXPECT_EQ(m["missing"], json::array({"data/big.bin"})) << *manifest;
}

}  // namespace
