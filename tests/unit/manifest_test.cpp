// The checkpoint manifest (pure): rendering and parsing, exact keys, in-progress marks,
// modification times with nanoseconds; and the control of a round (the down-store rule,
// the cancel's cleanup deadline).
#include "supervise/checkpoint/manifest.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "supervise/checkpoint/control.hpp"
#include "supervise/spec/base64.hpp"

namespace supervise::checkpoint {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

Manifest sample() {
  Manifest m;
  m.path = "/tmp/ck";
  m.url = "s3://bucket/run";
  m.round = 12;
  m.final = true;
  m.complete = false;
  m.in_progress = true;
  m.files = {{"ck/a", {3, 1795341600LL * 1'000'000'000 + 5}, 0xe3069283u, false},
             {"ck/quote\"back\\slash\nnewline\ttab", {0, -1}, 0, true},
             {std::string("ck/bad\xff\xfe") + "name", {7, 1}, 0xdeadbeefu, false},
             {"ck/ünïcødé/ß", {1ull << 40, 1'500'000'000}, 1, false}};
  m.missing = {"ck/new", "ck/quote\"back\\slash\nnewline\ttab"};
  return m;
}

TEST(ManifestRender, IsOneLineOfValidJsonWithEveryField) {
  auto now = std::chrono::system_clock::now();
  std::string text = render_manifest(sample(), now);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "more than one line";
  json doc = json::parse(text);  // throws on invalid JSON (or invalid UTF-8)
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_EQ(doc["path"], "/tmp/ck");
  EXPECT_EQ(doc["url"], "s3://bucket/run");
  EXPECT_EQ(doc["round"], 12);
  EXPECT_EQ(doc["final"], true);
  EXPECT_EQ(doc["complete"], false);
  EXPECT_EQ(doc["in_progress"], true);
  ASSERT_EQ(doc["files"].size(), 4u);
  EXPECT_EQ(doc["files"][0], (json{{"key", "ck/a"}, {"size", 3}, {"mtime", "2026-11-22T10:00:00.000000005Z"},
                                   {"crc32c", "e3069283"}}));
  EXPECT_EQ(doc["files"][1]["key"], "ck/quote\"back\\slash\nnewline\ttab");
  EXPECT_EQ(doc["files"][1]["in_progress"], true);
  EXPECT_EQ(doc["files"][1]["mtime"], "1969-12-31T23:59:59.999999999Z");
  EXPECT_FALSE(doc["files"][0].contains("in_progress"));
  EXPECT_FALSE(doc["files"][0].contains("key_base64"));
  EXPECT_EQ(doc["files"][3]["key"], "ck/ünïcødé/ß");
  EXPECT_EQ(doc["files"][3]["size"], 1ull << 40);
  EXPECT_EQ(doc["missing"], (json{"ck/new", "ck/quote\"back\\slash\nnewline\ttab"}));
}

// A name that is not UTF-8 cannot be a JSON string: `key` shows it with U+FFFD, and
// `key_base64` holds the exact bytes, so two such names never read as one.
TEST(ManifestRender, KeysThatAreNotUtf8AreKeptExactlyInBase64) {
  std::string text = render_manifest(sample(), std::chrono::system_clock::now());
  json doc = json::parse(text);
  const json& bad = doc["files"][2];
  EXPECT_EQ(bad["key"], "ck/bad\xEF\xBF\xBD\xEF\xBF\xBDname");
  ASSERT_TRUE(bad.contains("key_base64"));
  EXPECT_EQ(spec::base64_decode(bad["key_base64"].get<std::string>()), std::string("ck/bad\xff\xfe") + "name");
}

TEST(ManifestParse, ReadsBackWhatWasRendered) {
  Manifest in = sample();
  auto parsed = parse_manifest(render_manifest(in, std::chrono::system_clock::now()));
  ASSERT_TRUE(parsed) << parsed.error();
  const Manifest& out = *parsed;
  EXPECT_EQ(out.path, in.path);
  EXPECT_EQ(out.url, in.url);
  EXPECT_EQ(out.round, in.round);
  EXPECT_EQ(out.final, in.final);
  EXPECT_EQ(out.complete, in.complete);
  EXPECT_EQ(out.in_progress, in.in_progress);
  ASSERT_EQ(out.files.size(), in.files.size());
  for (std::size_t i = 0; i < in.files.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(out.files[i].key, in.files[i].key);
    EXPECT_EQ(out.files[i].stamp, in.files[i].stamp);
    EXPECT_EQ(out.files[i].crc32c, in.files[i].crc32c);
    EXPECT_EQ(out.files[i].in_progress, in.files[i].in_progress);
  }
  EXPECT_EQ(out.missing, in.missing);
}

TEST(ManifestParse, AnythingElseIsNotAManifest) {
  const char* cases[] = {
      "",
      "not json",
      "[1, 2]",
      R"({"files": []})",                                   // no schema_version
      R"({"schema_version": 2, "files": []})",              // a version we do not know
      R"({"schema_version": 1})",                           // no files
      R"({"schema_version": 1, "files": {}})",              // files not a list
      R"({"schema_version": 1, "files": [7]})",             // an entry that is not an object
      R"({"schema_version": 1, "files": [{"size": 1, "mtime": "2026-11-22T10:00:00.000000005Z", "crc32c": "00000000"}]})",
      R"({"schema_version": 1, "files": [{"key": "k", "size": -1, "mtime": "2026-11-22T10:00:00.000000005Z", "crc32c": "00000000"}]})",
      R"({"schema_version": 1, "files": [{"key": "k", "size": 1, "mtime": "yesterday", "crc32c": "00000000"}]})",
      R"({"schema_version": 1, "files": [{"key": "k", "size": 1, "mtime": "2026-11-22T10:00:00.000000005Z", "crc32c": "xyz"}]})",
      R"({"schema_version": 1, "files": [{"key": "k", "size": 1, "mtime": "2026-11-22T10:00:00.000000005Z", "crc32c": "123456789"}]})",
      R"({"schema_version": 1, "files": [{"key_base64": "!!", "size": 1, "mtime": "2026-11-22T10:00:00.000000005Z", "crc32c": "00000000"}]})",
  };
  for (const char* text : cases) {
    auto parsed = parse_manifest(text);
    EXPECT_FALSE(parsed) << text;
    if (!parsed) {
      EXPECT_EQ(parsed.error().rfind("not a checkpoint manifest: ", 0), 0u) << parsed.error();
    }
  }
}

TEST(ManifestMtime, FormatsAndParsesNanosecondsBothSidesOfTheEpoch) {
  const std::int64_t values[] = {0, 1, -1, 999'999'999, -1'000'000'000, 1795341600LL * 1'000'000'000 + 123456789,
                                 -86400LL * 365 * 1'000'000'000 - 7};
  for (std::int64_t ns : values) {
    std::string text = format_mtime(ns);
    EXPECT_EQ(text.size(), 30u) << text;
    EXPECT_EQ(parse_mtime(text), ns) << text;
  }
  EXPECT_EQ(format_mtime(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_FALSE(parse_mtime("2026-11-22T10:00:00Z"));
  EXPECT_FALSE(parse_mtime("2026-11-22 10:00:00.000000000Z"));
}

TEST(ManifestVouched, LeavesOutWhatIsInProgress) {
  Manifest m = sample();
  auto vouched = vouched_entries(m);
  EXPECT_EQ(vouched.size(), 3u);
  EXPECT_TRUE(vouched.count("ck/a"));
  EXPECT_FALSE(vouched.count("ck/quote\"back\\slash\nnewline\ttab"));
}

// ---- the control of a round --------------------------------------------------------------

// Polls until `done` or 5 s; true if it held.
bool eventually(const std::function<bool()>& done) {
  auto until = Clock::now() + 5s;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(StoreHealth, DownOnlyAfterFailingForTheWholeWindowAndSeveralTimes) {
  StoreHealth health(100ms);
  health.new_round();
  EXPECT_FALSE(health.down());
  auto first = Clock::now();
  health.failed("PUT s3://b/k: Couldn't connect to server");
  EXPECT_FALSE(health.down());  // one failure is not a dead store
  std::this_thread::sleep_for(150ms);  // the window is over (a minimum wait, not a poll)
  for (int i = 1; i < kDownFailures; ++i) {
    EXPECT_FALSE(health.down()) << i << " failures";  // a few slow failures are not a dead store either
    health.failed("PUT s3://b/k: Couldn't connect to server");
  }
  EXPECT_TRUE(health.down());
  EXPECT_GE(Clock::now() - first, 100ms);
  std::string error = health.down_error();
  EXPECT_EQ(error.rfind("the store is down: " + std::to_string(kDownFailures) + " requests in a row failed over ", 0), 0u)
      << error;
  EXPECT_NE(error.find("Couldn't connect to server"), std::string::npos) << error;
}

TEST(StoreHealth, ManyFailuresWithinTheWindowAreNotDown) {
  StoreHealth health(1h);
  health.new_round();
  for (int i = 0; i < 100; ++i) health.failed("503");
  EXPECT_FALSE(health.down());
}

TEST(StoreHealth, AnAnswerMeansItIsUp) {
  StoreHealth health(50ms);
  health.new_round();
  for (int i = 0; i < kDownFailures; ++i) health.failed("503");
  ASSERT_TRUE(eventually([&] { return health.down(); }));
  health.answered();
  EXPECT_FALSE(health.down());
  health.failed("503");  // the window starts again
  EXPECT_FALSE(health.down());
}

// A new round tries the store again: it is down for that round only once one of its
// own requests failed (then at once, the window having passed long ago).
TEST(StoreHealth, EachRoundGetsARequestOfItsOwn) {
  StoreHealth health(50ms);
  health.new_round();
  for (int i = 0; i < kDownFailures; ++i) health.failed("refused");
  ASSERT_TRUE(eventually([&] { return health.down(); }));
  health.new_round();
  EXPECT_FALSE(health.down());
  health.failed("refused again");
  EXPECT_TRUE(health.down());
}

TEST(Cancel, HasACleanupDeadlineOnceRequested) {
  Cancel cancel;
  EXPECT_FALSE(cancel.requested());
  EXPECT_EQ(cancel.cleanup_deadline(), Clock::time_point::max());
  auto until = Clock::now() + 2s;
  cancel.request(until);
  EXPECT_TRUE(cancel.requested());
  EXPECT_EQ(cancel.cleanup_deadline(), until);
}

TEST(Control, SleepEndsAtOnceWhenCancelledOrDown) {
  Cancel cancel;
  StoreHealth health(1h);
  Control control{&cancel, &health};
  EXPECT_TRUE(sleep_unless(control, 1ms));
  std::thread canceller([&] {
    std::this_thread::sleep_for(20ms);  // the sleeper must be asleep by then; not a wait for an event
    cancel.request(Clock::now());
  });
  auto started = Clock::now();
  EXPECT_FALSE(sleep_unless(control, 10s));
  EXPECT_LT(Clock::now() - started, 2s);
  canceller.join();
  EXPECT_TRUE(control.give_up());
  EXPECT_EQ(control.give_up_reason(), "cancelled: the grace period ended");
  EXPECT_FALSE(Control{}.give_up());
}

}  // namespace
}  // namespace supervise::checkpoint
