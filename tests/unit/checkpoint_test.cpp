// The checkpoint module: the CRC-32C checksum, the snapshot and its diff, the manifest,
// one round against a real file:// store in a temporary directory and against test
// stores that fail on purpose, and the engine's scheduling of the final round.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "supervise/checkpoint/crc32c.hpp"
#include "supervise/checkpoint/engine.hpp"
#include "supervise/checkpoint/file_store.hpp"
#include "supervise/checkpoint/round.hpp"
#include "supervise/checkpoint/snapshot.hpp"
#include "supervise/checkpoint/store.hpp"
#include "supervise/fs.hpp"

namespace supervise::checkpoint {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using json = nlohmann::json;

std::uint32_t crc_of(std::string_view s) { return crc32c(0, s.data(), s.size()); }

// ---------------------------------------------------------------------------------------
// CRC-32C

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc_of("123456789"), 0xe3069283u);
  EXPECT_EQ(crc_of(""), 0u);
  EXPECT_EQ(crc32c(0, nullptr, 0), 0u);
  EXPECT_EQ(crc_of("a"), 0xc1d04330u);
  // RFC 3720 (iSCSI), appendix B.4.
  EXPECT_EQ(crc_of(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(crc_of(std::string(32, '\xff')), 0x62a8ab43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) ascending += static_cast<char>(i), descending += static_cast<char>(31 - i);
  EXPECT_EQ(crc_of(ascending), 0x46dd794eu);
  EXPECT_EQ(crc_of(descending), 0x113fdb5cu);
}

TEST(Crc32c, Hex) {
  EXPECT_EQ(crc32c_hex(0xe3069283u), "e3069283");
  EXPECT_EQ(crc32c_hex(0x1u), "00000001");
  EXPECT_EQ(crc32c_hex(0u), "00000000");
  EXPECT_EQ(crc32c_hex(0xffffffffu), "ffffffff");
}

// The CRC of A+B combined from crc(A), crc(B) and |B| equals the one-pass CRC, for
// random splits of random sizes (empty parts, single bytes, parts of many MiB).
TEST(Crc32c, CombineEqualsOnePass) {
  std::mt19937_64 random(16);
  std::string data(20u << 20, '\0');
  for (auto& c : data) c = static_cast<char>(random());
  for (int round = 0; round < 200; ++round) {
    std::size_t size = round < 100 ? random() % 5000 : random() % data.size();
    std::size_t cut = size == 0 ? 0 : random() % (size + 1);
    std::uint32_t a = crc32c(0, data.data(), cut);
    std::uint32_t b = crc32c(0, data.data() + cut, size - cut);
    ASSERT_EQ(crc32c_combine(a, b, size - cut), crc32c(0, data.data(), size)) << "size " << size << " cut " << cut;
  }
  // Many parts, as a multipart upload combines them.
  std::uint32_t combined = 0;
  const std::size_t part = 1u << 20;
  for (std::size_t offset = 0; offset < data.size(); offset += part)
    combined = crc32c_combine(combined, crc32c(0, data.data() + offset, std::min(part, data.size() - offset)),
                              std::min(part, data.size() - offset));
  EXPECT_EQ(combined, crc32c(0, data.data(), data.size()));
  std::vector<std::uint32_t> pieces;
  for (std::size_t offset = 0; offset < data.size(); offset += part)
    pieces.push_back(crc32c(0, data.data() + offset, std::min(part, data.size() - offset)));
  EXPECT_EQ(crc32c_of_pieces(pieces, part, data.size()), combined);
  EXPECT_EQ(crc32c_of_pieces({}, part, 0), 0u);
  EXPECT_EQ(crc32c_combine(0x12345678u, 0u, 0), 0x12345678u);
}

// S3's form: the 4 bytes big-endian in base64 ("123456789" -> e3069283 -> 4waSgw==).
TEST(Crc32c, Base64) {
  EXPECT_EQ(crc32c_base64(0xe3069283u), "4waSgw==");
  EXPECT_EQ(crc32c_base64(0u), "AAAAAA==");
  EXPECT_EQ(crc32c_base64(0xffffffffu), "/////w==");
}

// The 8-byte path and the byte-at-a-time tail must agree, at every alignment and
// length: one call over a buffer equals the same bytes fed in small odd chunks.
TEST(Crc32c, OneCallEqualsManyChunksAtAnyAlignment) {
  std::mt19937 random(12345);
  std::vector<unsigned char> buffer(70'000 + 16);
  for (auto& b : buffer) b = static_cast<unsigned char>(random());
  for (int trial = 0; trial < 200; ++trial) {
    std::size_t offset = random() % 16;                     // any alignment
    std::size_t length = (random() % 70'000) | 1;           // odd lengths
    if (trial < 40) length = static_cast<std::size_t>(trial);  // and every short one
    const unsigned char* p = buffer.data() + offset;
    std::uint32_t whole = crc32c(0, p, length);
    std::uint32_t chunked = 0;
    for (std::size_t done = 0; done < length;) {
      std::size_t n = std::min<std::size_t>(length - done, 1 + random() % 13);
      chunked = crc32c(chunked, p + done, n);
      done += n;
    }
    ASSERT_EQ(whole, chunked) << "offset " << offset << " length " << length;
    // A bitwise reference for the short ones (no table, no instruction).
    if (length <= 64) {
      std::uint32_t c = 0xffffffffu;
      for (std::size_t i = 0; i < length; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      }
      ASSERT_EQ(whole, ~c) << "length " << length;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Helpers

class Dir {
 public:
  Dir() {
    std::string tmpl = (stdfs::temp_directory_path() / "supervise-ckpt-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~Dir() {
    std::error_code ec;
    stdfs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const stdfs::path& path() const { return path_; }

 private:
  stdfs::path path_;
};

void write(const std::string& path, const std::string& contents) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Sets the mtime of `path` (seconds + nanoseconds since the epoch).
void set_mtime(const std::string& path, std::int64_t sec, long nsec = 0) {
  timespec times[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

std::vector<std::string> keys(const Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& f : s.files) out.push_back(f.key);
  std::sort(out.begin(), out.end());
  return out;
}

const SnapshotFile* find(const Snapshot& s, const std::string& key) {
  for (const auto& f : s.files)
    if (f.key == key) return &f;
  return nullptr;
}

spec::Checkpoint entry_for(const std::string& path, const std::string& store_dir) {
  spec::Checkpoint e;
  e.path = path;
  e.url.scheme = spec::StoreUrl::Scheme::kFile;
  e.url.text = "file://" + store_dir;
  e.url.dir = store_dir;
  e.frequency = 1s;
  return e;
}

RetryPolicy fast_retry() { return RetryPolicy{4, 1ms, 5ms}; }

// Polls `done` until it holds or the deadline passes.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds deadline = 10s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return done();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Snapshot

// ---------------------------------------------------------------------------------------
// SourceFile: one version or "changed"

// A writer that rewrites a file in place with pauses shorter than a timestamp tick: a
// read that falls in a pause sees a mix, yet no stamp moves while it reads. The file
// must count as changed, whatever moment the read starts.
TEST(SourceFile, AFileBeingRewrittenInPlaceCountsAsChanged) {
  Dir dir;
  const std::string path = dir / "f";
  write(path, std::string(64 * 1024, 'a'));
  std::atomic<bool> stop{false};
  std::atomic<int> rewrites{0};
  std::thread writer([&] {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    char c = 'b';
    std::string chunk(4096, c);
    for (off_t at = 0; !stop; at = (at + 4096) % (64 * 1024)) {
      if (at == 0) chunk.assign(4096, c = static_cast<char>(c == 'z' ? 'b' : c + 1));
      ASSERT_EQ(::pwrite(fd, chunk.data(), chunk.size(), at), static_cast<ssize_t>(chunk.size()));
      ++rewrites;
      std::this_thread::sleep_for(1ms);  // shorter than any tick: a pause within a version
    }
    ::close(fd);
  });
  ASSERT_TRUE([&] {
    for (auto until = std::chrono::steady_clock::now() + 5s; rewrites < 10;)
      if (std::chrono::steady_clock::now() > until) return false;
    return true;
  }());
  int changed = 0;
  for (int i = 0; i < 5; ++i) {
    SourceFile in(path);
    ASSERT_TRUE(in.ok()) << in.error();
    std::string buffer(64 * 1024, '\0');
    while (in.read(buffer.data(), buffer.size()) > 0) {
    }
    changed += in.changed() ? 1 : 0;
  }
  stop = true;
  writer.join();
  EXPECT_EQ(changed, 5) << "a read of a file being rewritten was taken for one version";
}

// A file last written long ago is read at once, and is one version.
TEST(SourceFile, AQuietFileIsReadAtOnce) {
  Dir dir;
  const std::string path = dir / "f";
  write(path, "quiet");
  struct timeval old[2] = {{1'700'000'000, 0}, {1'700'000'000, 0}};
  ASSERT_EQ(::utimes(path.c_str(), old), 0);
  // ctime moved with utimes: a file so recent is watched for 100 ms first.
  std::this_thread::sleep_for(150ms);  // lets it age past the quiet time; not a wait for an event
  auto started = std::chrono::steady_clock::now();
  SourceFile in(path);
  ASSERT_TRUE(in.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15ms);
  char buffer[16];
  EXPECT_EQ(in.read(buffer, sizeof buffer), 5);
  EXPECT_FALSE(in.changed());
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "data";
    write(root_ + "/a.bin", "aaaa");
    write(root_ + "/b.txt", "bb");
    write(root_ + "/sub/c.pt", "c");
    write(root_ + "/sub/deeper/d.bin", "dddddd");
  }
  Dir dir_;
  std::string root_;
};

TEST_F(SnapshotTest, DirectoryKeysAreBasenameSlashRelativePath) {
  Snapshot s = take_snapshot(root_, nullptr);
  EXPECT_TRUE(s.exists);
  EXPECT_EQ(keys(s), (std::vector<std::string>{"data/a.bin", "data/b.txt", "data/sub/c.pt", "data/sub/deeper/d.bin"}));
  EXPECT_EQ(s.skipped, 0u);
  const SnapshotFile* d = find(s, "data/sub/deeper/d.bin");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->source, root_ + "/sub/deeper/d.bin");
  EXPECT_EQ(d->stamp.size, 6u);
  struct stat st = stat_of(d->source);
  EXPECT_EQ(d->stamp.mtime_ns, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
}

TEST_F(SnapshotTest, SingleFileKeyIsItsBasenameAndIgnoresTheRegex) {
  re2::RE2 nothing("nothing-matches-this");
  Snapshot s = take_snapshot(root_ + "/sub/c.pt", &nothing);
  EXPECT_TRUE(s.exists);
  ASSERT_EQ(keys(s), std::vector<std::string>{"c.pt"});
  EXPECT_EQ(s.files[0].source, root_ + "/sub/c.pt");
  EXPECT_EQ(s.files[0].stamp.size, 1u);
}

TEST_F(SnapshotTest, RegexIsAnchoredAtTheStartOfTheKey) {
  re2::RE2 suffix(R"(.*\.(bin|pt)$)");
  EXPECT_EQ(keys(take_snapshot(root_, &suffix)),
            (std::vector<std::string>{"data/a.bin", "data/sub/c.pt", "data/sub/deeper/d.bin"}));
  re2::RE2 prefix("data/sub/");
  EXPECT_EQ(keys(take_snapshot(root_, &prefix)),
            (std::vector<std::string>{"data/sub/c.pt", "data/sub/deeper/d.bin"}));
  // These would match in the middle of a key; anchored at the start they match nothing.
  re2::RE2 middle("sub/");
  EXPECT_TRUE(keys(take_snapshot(root_, &middle)).empty());
  re2::RE2 bare(R"(\.bin)");
  EXPECT_TRUE(keys(take_snapshot(root_, &bare)).empty());
  // Anchored at the start only: no implicit '$'.
  re2::RE2 start("data/a");
  EXPECT_EQ(keys(take_snapshot(root_, &start)), std::vector<std::string>{"data/a.bin"});
}

TEST_F(SnapshotTest, LinkInsideIsStoredAsTheTargetsContent) {
  ASSERT_EQ(::symlink("a.bin", (root_ + "/link-rel").c_str()), 0);
  ASSERT_EQ(::symlink((root_ + "/sub/c.pt").c_str(), (root_ + "/link-abs").c_str()), 0);
  ASSERT_EQ(::symlink("../a.bin", (root_ + "/sub/up").c_str()), 0);
  Snapshot s = take_snapshot(root_, nullptr);
  const SnapshotFile* rel = find(s, "data/link-rel");
  ASSERT_NE(rel, nullptr);
  EXPECT_EQ(read(rel->source), "aaaa");
  EXPECT_EQ(rel->stamp.size, 4u);
  const SnapshotFile* abs = find(s, "data/link-abs");
  ASSERT_NE(abs, nullptr);
  EXPECT_EQ(read(abs->source), "c");
  ASSERT_NE(find(s, "data/sub/up"), nullptr);
  EXPECT_EQ(s.skipped, 0u);
}

TEST_F(SnapshotTest, LinksOutOfThePathAreSkippedAndCounted) {
  write(dir_ / "outside.txt", "secret");
  write(dir_ / "data-sibling/x", "x");  // shares the prefix "…/data" but lies outside
  ASSERT_EQ(::symlink((dir_ / "outside.txt").c_str(), (root_ + "/out-abs").c_str()), 0);
  ASSERT_EQ(::symlink("../outside.txt", (root_ + "/out-rel").c_str()), 0);
  ASSERT_EQ(::symlink("../data-sibling/x", (root_ + "/out-prefix").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (root_ + "/sub/etc").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", (root_ + "/dangling").c_str()), 0);
  Snapshot s = take_snapshot(root_, nullptr);
  EXPECT_EQ(keys(s), (std::vector<std::string>{"data/a.bin", "data/b.txt", "data/sub/c.pt", "data/sub/deeper/d.bin"}));
  EXPECT_EQ(s.skipped, 5u);
  EXPECT_FALSE(s.skipped_examples.empty());
  // Counted only when the regex would have wanted the file.
  re2::RE2 only_out("data/out-");
  Snapshot filtered = take_snapshot(root_, &only_out);
  EXPECT_TRUE(filtered.files.empty());
  EXPECT_EQ(filtered.skipped, 3u);
}

TEST_F(SnapshotTest, LinksToDirectoriesAreSkippedNotWalked) {
  ASSERT_EQ(::symlink("sub", (root_ + "/sub-again").c_str()), 0);      // inside
  ASSERT_EQ(::symlink(dir_.path().c_str(), (root_ + "/loop").c_str()), 0);  // outside, and a loop
  Snapshot s = take_snapshot(root_, nullptr);
  EXPECT_EQ(keys(s), (std::vector<std::string>{"data/a.bin", "data/b.txt", "data/sub/c.pt", "data/sub/deeper/d.bin"}));
  EXPECT_EQ(s.skipped, 2u);
}

TEST_F(SnapshotTest, FifosAreSkipped) {
  ASSERT_EQ(::mkfifo((root_ + "/pipe").c_str(), 0644), 0);
  Snapshot s = take_snapshot(root_, nullptr);
  EXPECT_EQ(find(s, "data/pipe"), nullptr);
  EXPECT_EQ(s.files.size(), 4u);
  EXPECT_EQ(s.skipped, 1u);
  // A declared path that is itself a fifo: there, but nothing to store.
  Snapshot fifo = take_snapshot(root_ + "/pipe", nullptr);
  EXPECT_TRUE(fifo.exists);
  EXPECT_TRUE(fifo.files.empty());
  EXPECT_EQ(fifo.skipped, 1u);
  // A regex that does not want the fifo does not count it either.
  re2::RE2 bins(R"(.*\.bin$)");
  EXPECT_EQ(take_snapshot(root_, &bins).skipped, 0u);
}

TEST_F(SnapshotTest, MissingPathIsNotAnError) {
  Snapshot s = take_snapshot(dir_ / "not-yet", nullptr);
  EXPECT_FALSE(s.exists);
  EXPECT_TRUE(s.files.empty());
  EXPECT_EQ(s.skipped, 0u);
  EXPECT_FALSE(take_snapshot(dir_ / "a-file/under-a-file", nullptr).exists);
}

TEST_F(SnapshotTest, DeclaredPathMayItselfBeALink) {
  ASSERT_EQ(::symlink(root_.c_str(), (dir_ / "mounted").c_str()), 0);
  ASSERT_EQ(::symlink("a.bin", (root_ + "/in").c_str()), 0);
  Snapshot s = take_snapshot(dir_ / "mounted", nullptr);
  EXPECT_TRUE(s.exists);
  // Keys use the declared name; a link inside the real directory is still inside.
  EXPECT_EQ(keys(s), (std::vector<std::string>{"mounted/a.bin", "mounted/b.txt", "mounted/in", "mounted/sub/c.pt",
                                               "mounted/sub/deeper/d.bin"}));
  EXPECT_EQ(s.skipped, 0u);
}

TEST_F(SnapshotTest, EmptyDirectoryExistsWithNoFiles) {
  stdfs::create_directories(dir_ / "empty");
  Snapshot s = take_snapshot(dir_ / "empty", nullptr);
  EXPECT_TRUE(s.exists);
  EXPECT_TRUE(s.files.empty());
}

// ---------------------------------------------------------------------------------------
// plan_round (pure)

Snapshot snapshot_of(std::vector<std::pair<std::string, Stamp>> files) {
  Snapshot s;
  s.exists = true;
  for (auto& [key, stamp] : files) s.files.push_back({key, "/src/" + key, stamp});
  return s;
}

TEST(PlanRound, UploadsWhatIsNewOrDiffersInSizeOrMtime) {
  Snapshot s = snapshot_of({{"d/same", {10, 100}},
                            {"d/new", {1, 1}},
                            {"d/size", {11, 100}},
                            {"d/mtime", {10, 101}},
                            {"d/older", {10, 99}}});
  StoredFiles stored = {{"d/same", {{10, 100}, 1}},
                        {"d/size", {{10, 100}, 2}},
                        {"d/mtime", {{10, 100}, 3}},
                        {"d/older", {{10, 100}, 4}},
                        {"d/deleted", {{5, 5}, 5}}};
  Plan plan = plan_round(s, stored);
  std::vector<std::string> upload;
  for (const auto* f : plan.upload) upload.push_back(f->key);
  EXPECT_EQ(upload, (std::vector<std::string>{"d/new", "d/size", "d/mtime", "d/older"}));
  EXPECT_EQ(plan.unchanged, 1u);
}

TEST(PlanRound, NothingStoredMeansEverything) {
  Snapshot s = snapshot_of({{"a", {0, 0}}, {"b", {1, 2}}});
  Plan plan = plan_round(s, {});
  EXPECT_EQ(plan.upload.size(), 2u);
  EXPECT_EQ(plan.unchanged, 0u);
  EXPECT_TRUE(plan_round(Snapshot{}, {}).upload.empty());
}

// ---------------------------------------------------------------------------------------
// Manifest (pure)

TEST(CheckpointManifest, KeyIsBesideTheData) {
  EXPECT_EQ(manifest_key(entry_for("/tmp/checkpoints", "/s")), "checkpoints.manifest.json");
  EXPECT_EQ(manifest_key(entry_for("/data/model.pt", "/s")), "model.pt.manifest.json");
}

TEST(CheckpointManifest, ListsStoredFilesAndMissingOnes) {
  spec::Checkpoint entry = entry_for("/tmp/ck", "/store");
  RoundRequest request{&entry, nullptr, 7, true, true, {}};
  // 2026-11-22T10:00:00.000000005Z and 1969-12-31T23:59:59.999999999Z
  const std::int64_t t = 1795341600LL * 1'000'000'000 + 5;
  Snapshot s = snapshot_of({{"ck/a", {3, t}}, {"ck/b", {4, -1}}, {"ck/new", {1, 1}}, {"ck/stale", {2, 2}}});
  StoredFiles stored = {{"ck/a", {{3, t}, 0xe3069283u}},
                        {"ck/b", {{4, -1}, 0x1u}},
                        {"ck/stale", {{2, 1}, 0x2u}},  // stored version differs
                        {"ck/gone", {{9, 9}, 0x3u}}};   // no longer in the path
  json m = json::parse(render_manifest(round_manifest(request, s, stored, {}, true), std::chrono::system_clock::now()));
  EXPECT_EQ(m["schema_version"], 1);
  EXPECT_EQ(m["path"], "/tmp/ck");
  EXPECT_EQ(m["url"], "file:///store");
  EXPECT_EQ(m["round"], 7);
  EXPECT_EQ(m["final"], true);
  EXPECT_EQ(m["complete"], false);  // two files are missing
  EXPECT_EQ(m["in_progress"], false);
  ASSERT_TRUE(m["created_at"].is_string());
  EXPECT_EQ(m["created_at"].get<std::string>().size(), std::string("2026-11-22T10:00:00.000Z").size());
  // The stale file is listed as stored (its older version is what the store holds) and
  // is missing in its current version.
  ASSERT_EQ(m["files"].size(), 3u);
  EXPECT_EQ(m["files"][0], (json{{"key", "ck/a"}, {"size", 3}, {"mtime", "2026-11-22T10:00:00.000000005Z"},
                                 {"crc32c", "e3069283"}}));
  EXPECT_EQ(m["files"][1]["key"], "ck/b");
  EXPECT_EQ(m["files"][1]["mtime"], "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(m["files"][1]["crc32c"], "00000001");
  EXPECT_EQ(m["files"][2]["key"], "ck/stale");
  EXPECT_EQ(m["files"][2]["mtime"], "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(m["missing"], (json{"ck/new", "ck/stale"}));
}

TEST(CheckpointManifest, CompleteOnlyWhenAskedAndNothingMissing) {
  spec::Checkpoint entry = entry_for("/tmp/ck", "/store");
  RoundRequest request{&entry, nullptr, 1, false, true, {}};
  Snapshot s = snapshot_of({{"ck/a", {3, 1'500'000'000}}});
  StoredFiles stored = {{"ck/a", {{3, 1'500'000'000}, 5}}};
  auto now = std::chrono::system_clock::now();
  json m = json::parse(render_manifest(round_manifest(request, s, stored, {}, true), now));
  EXPECT_EQ(m["complete"], true);
  EXPECT_EQ(m["final"], false);
  EXPECT_EQ(m["files"][0]["mtime"], "1970-01-01T00:00:01.500000000Z");
  EXPECT_TRUE(m["missing"].empty());
  EXPECT_EQ(json::parse(render_manifest(round_manifest(request, s, stored, {}, false), now))["complete"], false);
  json empty = json::parse(render_manifest(round_manifest(request, Snapshot{true, {}, 0, {}}, {}, {}, true), now));
  EXPECT_TRUE(empty["files"].empty());
  EXPECT_EQ(empty["complete"], true);
}

// ---------------------------------------------------------------------------------------
// Test stores

// Records every call (in order) and passes it to an inner store, if any.
class RecordingStore : public Store {
 public:
  explicit RecordingStore(std::shared_ptr<Store> inner = nullptr, unsigned parallel = 1,
                          Clock::duration down_window = kDownWindow)
      : Store(down_window), inner_(std::move(inner)), parallel_(parallel) {}
  PutResult put_file(const std::string& key, const std::string& source, const Control& control) override {
    record(key);
    return on_file(key, source, control);
  }
  PutResult put_bytes(const std::string& key, std::string_view data, const Control& control) override {
    record(key);
    return on_bytes(key, data, control);
  }
  GetResult get_bytes(const std::string& key, const Control& control) override {
    {
      std::lock_guard lock(mutex_);
      gets_.push_back(key);
    }
    if (inner_) return inner_->get_bytes(key, control);
    GetResult r;
    r.state = GetResult::State::kNotFound;
    return r;
  }
  GetResult get_file(const std::string& key, SinkFile& sink, const Control& control) override {
    {
      std::lock_guard lock(mutex_);
      gets_.push_back(key);
    }
    if (inner_) return inner_->get_file(key, sink, control);
    GetResult r;
    r.state = GetResult::State::kNotFound;
    return r;
  }
  bool clean_leftovers(const std::string& root, const std::function<bool(const std::string&)>& keep,
                       const Control& control) override {
    return inner_ ? inner_->clean_leftovers(root, keep, control) : true;
  }
  unsigned parallelism() const override { return parallel_; }
  std::vector<std::string> gets() const {
    std::lock_guard lock(mutex_);
    return gets_;
  }

  std::vector<std::string> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::size_t count(const std::string& key) const {
    auto c = calls();
    return static_cast<std::size_t>(std::count(c.begin(), c.end(), key));
  }
  std::vector<std::chrono::steady_clock::time_point> times(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = times_.find(key);
    return it == times_.end() ? std::vector<std::chrono::steady_clock::time_point>{} : it->second;
  }

 protected:
  virtual PutResult on_file(const std::string& key, const std::string& source, const Control& control) {
    if (inner_) return inner_->put_file(key, source, control);
    SourceFile in(source);  // a store of nothing that still reads like one
    PutResult r;
    if (!in.ok()) {
      r.vanished = in.vanished();
      r.error = in.error();
      return r;
    }
    char buf[4096];
    long n;
    while ((n = in.read(buf, sizeof buf)) > 0) r.bytes += static_cast<std::uint64_t>(n);
    r.ok = n == 0;
    r.stamp = in.stamp();
    r.crc32c = in.crc32c();
    r.changed = in.changed();
    return r;
  }
  virtual PutResult on_bytes(const std::string& key, std::string_view data, const Control& control) {
    if (inner_) return inner_->put_bytes(key, data, control);
    PutResult r;
    r.ok = true;
    r.bytes = data.size();
    return r;
  }
  // How many calls for `key` came before this one.
  std::size_t previous(const std::string& key) const { return count(key) - 1; }

 private:
  void record(const std::string& key) {
    std::lock_guard lock(mutex_);
    calls_.push_back(key);
    times_[key].push_back(std::chrono::steady_clock::now());
  }
  std::shared_ptr<Store> inner_;
  unsigned parallel_;
  mutable std::mutex mutex_;
  std::vector<std::string> calls_;
  std::vector<std::string> gets_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> times_;
};

PutResult failure(bool retryable, const std::string& why) {
  PutResult r;
  r.retryable = retryable;
  r.error = why;
  return r;
}

// Each file fails `failures` times (retryably or not), then is stored.
class FlakyStore : public RecordingStore {
 public:
  FlakyStore(std::size_t failures, bool retryable, std::shared_ptr<Store> inner = nullptr)
      : RecordingStore(std::move(inner)), failures_(failures), retryable_(retryable) {}

 protected:
  PutResult on_file(const std::string& key, const std::string& source, const Control& control) override {
    if (previous(key) < failures_) return failure(retryable_, "storing " + key + ": Connection reset by peer");
    return RecordingStore::on_file(key, source, control);
  }

 private:
  std::size_t failures_;
  bool retryable_;
};

// ---------------------------------------------------------------------------------------
// run_round with the file:// store

class RoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "data";
    store_dir_ = dir_ / "store";
    write(root_ + "/a.bin", "alpha");
    write(root_ + "/sub/b.pt", "beta");
    write(root_ + "/c.txt", "gamma");
    entry_ = entry_for(root_, store_dir_);
  }
  RoundResult round(Store& store, bool final = false, const re2::RE2* regex = nullptr, bool manifest = true) {
    RoundRequest request{&entry_, regex, ++number_, final, manifest, fast_retry()};
    return run_round(request, store, state_, progress_, cancel_);
  }
  RoundResult run(const RoundRequest& request, Store& store) {
    return run_round(request, store, state_, progress_, cancel_);
  }
  std::string stored_path(const std::string& key) const { return store_dir_ + "/" + key; }
  json manifest() const { return json::parse(read(store_dir_ + "/data.manifest.json")); }

  Dir dir_;
  std::string root_, store_dir_;
  spec::Checkpoint entry_;
  EntryState state_;
  StoredFiles& stored_ = state_.stored;
  Progress progress_;
  Cancel cancel_;
  std::size_t number_ = 0;
};

TEST_F(RoundTest, FirstRoundStoresEverythingInOsmoLayout) {
  ASSERT_EQ(::chmod((root_ + "/a.bin").c_str(), 0600), 0);
  FileStore store(store_dir_);
  RoundResult r = round(store);
  EXPECT_TRUE(r.ok()) << r.error_summary();
  EXPECT_TRUE(r.path_exists);
  EXPECT_EQ(r.stored, 3u);
  EXPECT_EQ(r.unchanged, 0u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.bytes, 14u);
  EXPECT_GE(r.seconds, 0.0);
  EXPECT_EQ(read(stored_path("data/a.bin")), "alpha");
  EXPECT_EQ(read(stored_path("data/sub/b.pt")), "beta");
  EXPECT_EQ(read(stored_path("data/c.txt")), "gamma");
  EXPECT_EQ(stat_of(stored_path("data/a.bin")).st_mode & 0777, 0600u);  // the mode travels
  EXPECT_EQ(stored_.size(), 3u);
  EXPECT_EQ(stored_["data/a.bin"].crc32c, crc_of("alpha"));
  // No temporary file left beside anything.
  for (const auto& e : stdfs::recursive_directory_iterator(store_dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

// The figures of its progress lines: the files the round stores and their bytes, and
// the bytes the store moved (the files', not the manifest's).
TEST_F(RoundTest, ProgressCountsTheRoundsTotalsAndTheBytesMoved) {
  FileStore store(store_dir_);
  ASSERT_TRUE(round(store).ok());
  EXPECT_EQ(progress_.total_files, 3u);
  EXPECT_EQ(progress_.total_bytes, 14u);
  EXPECT_EQ(progress_.moved, 14u);
  EXPECT_EQ(progress_.stored, 3u);
  EXPECT_EQ(progress_.bytes, 14u);
  progress_.reset();  // as the engine does before each round
  write(root_ + "/sub/b.pt", "beta, longer");
  ASSERT_TRUE(round(store).ok());
  EXPECT_EQ(progress_.total_files, 1u);
  EXPECT_EQ(progress_.total_bytes, 12u);
  EXPECT_EQ(progress_.moved, 12u);
}

TEST_F(RoundTest, SecondRoundWithoutChangeStoresNothing) {
  FileStore store(store_dir_);
  ASSERT_TRUE(round(store).ok());
  struct stat before = stat_of(stored_path("data/a.bin"));
  struct stat before_b = stat_of(stored_path("data/sub/b.pt"));
  RecordingStore recording(std::make_shared<FileStore>(store_dir_));
  RoundResult r = round(recording);
  EXPECT_TRUE(r.ok()) << r.error_summary();
  EXPECT_EQ(r.stored, 0u);
  EXPECT_EQ(r.unchanged, 3u);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(recording.calls(), std::vector<std::string>{"data.manifest.json"});  // only the manifest
  struct stat after = stat_of(stored_path("data/a.bin"));
  struct stat after_b = stat_of(stored_path("data/sub/b.pt"));
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after_b.st_ino, before_b.st_ino);
  EXPECT_EQ(manifest()["round"], 2);
}

TEST_F(RoundTest, StoresExactlyTheChangedFiles) {
  FileStore store(store_dir_);
  ASSERT_TRUE(round(store).ok());
  struct stat untouched_before = stat_of(stored_path("data/c.txt"));
  write(root_ + "/a.bin", "ALPHA!");       // size changed
  std::int64_t old = stat_of(root_ + "/sub/b.pt").st_mtim.tv_sec;
  write(root_ + "/sub/b.pt", "BETA");      // same size...
  set_mtime(root_ + "/sub/b.pt", old + 10);  // ...newer mtime
  write(root_ + "/sub/new.bin", "n");
  RecordingStore recording(std::make_shared<FileStore>(store_dir_));
  RoundResult r = round(recording);
  EXPECT_TRUE(r.ok()) << r.error_summary();
  EXPECT_EQ(r.stored, 3u);
  EXPECT_EQ(r.unchanged, 1u);
  EXPECT_EQ(r.bytes, 6u + 4u + 1u);
  auto calls = recording.calls();
  // Two files the stored manifest vouched for are replaced: it is stored first with them
  // marked in progress, then the files, then the new manifest.
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls.front(), "data.manifest.json");
  EXPECT_EQ(calls.back(), "data.manifest.json");
  std::sort(calls.begin(), calls.end());
  EXPECT_EQ(calls, (std::vector<std::string>{"data.manifest.json", "data.manifest.json", "data/a.bin",
                                             "data/sub/b.pt", "data/sub/new.bin"}));
  EXPECT_EQ(read(stored_path("data/a.bin")), "ALPHA!");
  EXPECT_EQ(read(stored_path("data/sub/b.pt")), "BETA");
  EXPECT_EQ(stat_of(stored_path("data/c.txt")).st_ino, untouched_before.st_ino);
  // An mtime moved back in time is a change too.
  set_mtime(root_ + "/c.txt", 1'000'000'000);
  RoundResult back = round(store);
  EXPECT_EQ(back.stored, 1u);
  EXPECT_NE(stat_of(stored_path("data/c.txt")).st_ino, untouched_before.st_ino);
}

TEST_F(RoundTest, ManifestIsStoredLastAndListsEveryFile) {
  write(root_ + "/more/d", "d");
  RecordingStore recording(std::make_shared<FileStore>(store_dir_), /*parallel=*/4);
  RoundResult r = round(recording);
  ASSERT_TRUE(r.ok()) << r.error_summary();
  auto calls = recording.calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls.back(), "data.manifest.json");
  json m = manifest();
  EXPECT_EQ(m["complete"], true);
  EXPECT_EQ(m["round"], 1);
  EXPECT_EQ(m["path"], root_);
  EXPECT_EQ(m["url"], "file://" + store_dir_);
  std::map<std::string, json> by_key;
  for (const auto& f : m["files"]) by_key[f["key"]] = f;
  ASSERT_EQ(by_key.size(), 4u);
  for (const std::string key : {"data/a.bin", "data/sub/b.pt", "data/c.txt", "data/more/d"}) {
    ASSERT_TRUE(by_key.count(key)) << key;
    std::string content = read(stored_path(key));
    EXPECT_EQ(by_key[key]["size"], content.size()) << key;
    EXPECT_EQ(by_key[key]["crc32c"], crc32c_hex(crc_of(content))) << key;
    std::string mtime = by_key[key]["mtime"];
    EXPECT_EQ(mtime.size(), std::string("2026-11-22T10:00:00.123456789Z").size()) << mtime;
  }
  // A round with nothing new still lists every file.
  RoundResult again = round(recording);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(manifest()["files"].size(), 4u);
  EXPECT_EQ(manifest()["round"], 2);
}

TEST_F(RoundTest, NoManifestWhenTurnedOff) {
  FileStore store(store_dir_);
  RoundResult r = round(store, false, nullptr, /*manifest=*/false);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.stored, 3u);
  EXPECT_FALSE(stdfs::exists(store_dir_ + "/data.manifest.json"));
}

TEST_F(RoundTest, RegexFiltersAndSingleFilePath) {
  re2::RE2 bins(R"(.*\.(bin|pt)$)");
  FileStore store(store_dir_);
  RoundResult r = round(store, false, &bins);
  EXPECT_EQ(r.stored, 2u);
  EXPECT_TRUE(stdfs::exists(stored_path("data/a.bin")));
  EXPECT_TRUE(stdfs::exists(stored_path("data/sub/b.pt")));
  EXPECT_FALSE(stdfs::exists(stored_path("data/c.txt")));
  EXPECT_EQ(manifest()["files"].size(), 2u);

  spec::Checkpoint single = entry_for(root_ + "/c.txt", dir_ / "single");
  EntryState state;
  RoundRequest request{&single, &bins, 1, true, true, fast_retry()};
  FileStore single_store(dir_ / "single");
  RoundResult s = run_round(request, single_store, state, progress_, cancel_);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.stored, 1u);
  EXPECT_EQ(read(dir_ / "single/c.txt"), "gamma");
  EXPECT_TRUE(stdfs::exists(dir_ / "single/c.txt.manifest.json"));
}

TEST_F(RoundTest, MissingPathStoresNothingAndIsOk) {
  spec::Checkpoint missing = entry_for(dir_ / "not-yet", store_dir_);
  EntryState state;
  RoundRequest request{&missing, nullptr, 1, true, true, fast_retry()};
  RecordingStore recording(std::make_shared<FileStore>(store_dir_));
  RoundResult r = run_round(request, recording, state, progress_, cancel_);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.path_exists);
  EXPECT_EQ(r.stored, 0u);
  EXPECT_TRUE(recording.calls().empty());
}

TEST_F(RoundTest, LinksEndToEnd) {
  write(dir_ / "outside", "secret");
  ASSERT_EQ(::symlink("a.bin", (root_ + "/in").c_str()), 0);
  ASSERT_EQ(::symlink((dir_ / "outside").c_str(), (root_ + "/out").c_str()), 0);
  FileStore store(store_dir_);
  RoundResult r = round(store);
  EXPECT_TRUE(r.ok()) << r.error_summary();
  EXPECT_EQ(r.stored, 4u);
  EXPECT_EQ(r.skipped, 1u);
  struct stat st {};
  ASSERT_EQ(::lstat(stored_path("data/in").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(read(stored_path("data/in")), "alpha");
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(stored_path("data/out"))));
}

// The store's directory lies under a regular file: every write fails with ENOTDIR.
TEST_F(RoundTest, UnwritableStoreCountsFailuresNamingEachFile) {
  write(dir_ / "regular", "I am a file");
  std::string bad_dir = dir_ / "regular/store";
  entry_ = entry_for(root_, bad_dir);
  FileStore store(bad_dir);
  auto started = std::chrono::steady_clock::now();
  RoundResult r = round(store, /*final=*/true);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);  // not retried: ENOTDIR stays
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, 3u);
  EXPECT_EQ(r.stored, 0u);
  EXPECT_FALSE(r.manifest_ok);
  EXPECT_TRUE(stored_.empty());
  ASSERT_EQ(r.errors.size(), 4u);  // three files and the manifest
  std::vector<std::string> named;
  for (const auto& e : r.errors) {
    EXPECT_NE(e.find("Not a directory"), std::string::npos) << e;
    for (const std::string key : {"data/a.bin", "data/sub/b.pt", "data/c.txt", "data.manifest.json"})
      if (e.find(key) != std::string::npos) named.push_back(key);
  }
  std::sort(named.begin(), named.end());
  EXPECT_EQ(named, (std::vector<std::string>{"data.manifest.json", "data/a.bin", "data/c.txt", "data/sub/b.pt"}));
  std::string summary = r.error_summary();
  EXPECT_NE(summary.find("3 files not stored"), std::string::npos) << summary;
  EXPECT_NE(summary.find("manifest not stored"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Not a directory"), std::string::npos) << summary;
}

TEST_F(RoundTest, RetryableFailuresAreRetriedWithBackoff) {
  // Twenty files, each failing three times then stored: 60 waits, each uniform in
  // [0, min(cap, base * 2^attempt)] with base 5 ms (full jitter).
  for (int i = 0; i < 17; ++i) write(root_ + "/many/" + std::to_string(i), std::to_string(i));
  FlakyStore store(3, /*retryable=*/true, std::make_shared<FileStore>(store_dir_));
  RoundRequest request{&entry_, nullptr, 1, false, true, RetryPolicy{4, 5ms, 10s}};
  RoundResult r = run(request, store);
  EXPECT_TRUE(r.ok()) << r.error_summary();
  EXPECT_EQ(r.stored, 20u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(read(stored_path("data/a.bin")), "alpha");
  std::chrono::steady_clock::duration waited{};
  for (const auto& f : take_snapshot(root_, nullptr).files) {
    auto t = store.times(f.key);
    ASSERT_EQ(t.size(), 4u) << f.key;
    for (std::size_t k = 1; k < t.size(); ++k) {
      auto ceiling = 5ms * (1 << k);
      // Never near the cap: the ceiling of this attempt holds (loose: busy cores).
      EXPECT_LE(t[k] - t[k - 1], ceiling + 1s) << f.key << " attempt " << k;
      waited += t[k] - t[k - 1];
    }
  }
  // The mean of all waits is 20 * (10 + 20 + 40) / 2 ms = 700 ms; without backoff, ~0.
  EXPECT_GE(waited, 150ms);
}

TEST_F(RoundTest, RetriesAreBounded) {
  FlakyStore store(1000, /*retryable=*/true);
  RoundRequest request{&entry_, nullptr, 1, false, false, RetryPolicy{4, 1ms, 2ms}};
  RoundResult r = run(request, store);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, 3u);
  EXPECT_EQ(store.count("data/a.bin"), 4u);
  EXPECT_EQ(store.count("data/sub/b.pt"), 4u);
  EXPECT_NE(r.error_summary().find("Connection reset"), std::string::npos);
  // What failed goes to the next round.
  FlakyStore healthy(0, true);
  RoundResult next = run(request, healthy);
  EXPECT_TRUE(next.ok());
  EXPECT_EQ(next.stored, 3u);
}

TEST_F(RoundTest, NonRetryableFailureIsTriedOnce) {
  FlakyStore store(1000, /*retryable=*/false);
  RoundRequest request{&entry_, nullptr, 1, false, true, RetryPolicy{4, 200ms, 1000ms}};
  auto started = std::chrono::steady_clock::now();
  RoundResult r = run(request, store);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 150ms);  // no backoff waited
  EXPECT_EQ(r.failed, 3u);
  EXPECT_EQ(store.count("data/a.bin"), 1u);
  EXPECT_EQ(store.count("data/c.txt"), 1u);
  // The manifest still tells a reader the checkpoint is not complete.
  EXPECT_EQ(store.count("data.manifest.json"), 1u);
}

// The manifest is a request like any other: retried when the failure is transient.
TEST_F(RoundTest, ManifestIsRetriedToo) {
  class ManifestFlaky : public RecordingStore {
   protected:
    PutResult on_bytes(const std::string& key, std::string_view data, const Control& control) override {
      if (previous(key) < 2) return failure(true, key + ": Service Unavailable");
      return RecordingStore::on_bytes(key, data, control);
    }
  } store;
  RoundResult r = round(store);
  EXPECT_TRUE(r.ok()) << r.error_summary();
  EXPECT_TRUE(r.manifest_ok);
  EXPECT_EQ(store.count("data.manifest.json"), 3u);
}

// A file that changed while being stored is not recorded as stored: the next round
// stores it again; the final round goes back to it before giving up.
TEST_F(RoundTest, ChangedWhileStoredIsStoredAgain) {
  class Changing : public RecordingStore {
   public:
    explicit Changing(std::size_t times) : times_(times) {}

   protected:
    PutResult on_file(const std::string& key, const std::string& source, const Control& control) override {
      PutResult r = RecordingStore::on_file(key, source, control);
      if (key == "data/a.bin" && previous(key) < times_) r.changed = true;
      return r;
    }
    std::size_t times_;
  };
  Changing once(1);
  RoundResult r = round(once);
  // A periodic round is not failed by it: the next round stores the file.
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.changing, 1u);
  EXPECT_EQ(r.stored, 2u);
  EXPECT_EQ(stored_.count("data/a.bin"), 0u);
  EXPECT_NE(r.error_summary().find("changing"), std::string::npos);
  RoundResult next = round(once);
  EXPECT_TRUE(next.ok());
  EXPECT_EQ(next.stored, 1u);
  EXPECT_EQ(stored_.count("data/a.bin"), 1u);

  // The final round: two changes, then stored on the third pass.
  state_ = EntryState{};
  Changing twice(2);
  RoundResult final_round = round(twice, /*final=*/true);
  EXPECT_TRUE(final_round.ok()) << final_round.error_summary();
  EXPECT_EQ(twice.count("data/a.bin"), 3u);
  EXPECT_EQ(final_round.stored, 3u);
  // Always changing: the final round gives up after its passes and says so.
  state_ = EntryState{};
  Changing always(1000);
  RoundResult gave_up = round(always, /*final=*/true);
  EXPECT_FALSE(gave_up.ok());
  EXPECT_EQ(gave_up.changing, 1u);
  EXPECT_EQ(always.count("data/a.bin"), 3u);
}

// A file swapped for a fifo between the walk and its upload: nothing to store, and no
// open() that waits forever for a writer.
TEST_F(RoundTest, FileSwappedForAFifoDoesNotBlock) {
  std::string fifo = root_ + "/swapped";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  FileStore store(store_dir_);
  std::atomic<bool> finished{false};
  PutResult result;
  std::thread putter([&] {
    result = store.put_file("data/swapped", fifo, Control{});
    finished = true;
  });
  bool in_time = wait_until([&] { return finished.load(); }, 5s);
  if (!in_time) {  // unblock the reader so the test ends (and fails)
    int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
  }
  putter.join();
  EXPECT_TRUE(in_time);
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.vanished) << result.error;
  EXPECT_FALSE(stdfs::exists(stored_path("data/swapped")));
}

// Stored whole in round 1; in round 2 a new version changes while it is being stored,
// so nothing is committed (the store keeps the round-1 copy): the manifest goes on
// listing the round-1 version, which is what the store holds, and says the file is
// missing in its current version.
TEST_F(RoundTest, ChangedWhileStoredKeepsThePreviousVersionListed) {
  FileStore store(store_dir_);
  ASSERT_TRUE(round(store).ok());
  json before = manifest();
  write(root_ + "/a.bin", "alpha, version 2");
  class ChangesOnce : public RecordingStore {
   public:
    using RecordingStore::RecordingStore;

   protected:
    PutResult on_file(const std::string& key, const std::string& source, const Control& control) override {
      if (key == "data/a.bin" && previous(key) == 0) {  // as FileStore says it: nothing renamed
        PutResult r;
        r.ok = true;
        r.changed = true;
        return r;
      }
      return RecordingStore::on_file(key, source, control);
    }
  } changes(std::make_shared<FileStore>(store_dir_));
  RoundResult r = round(changes);
  EXPECT_EQ(r.changing, 1u);
  json m = manifest();
  EXPECT_EQ(m["complete"], false);
  EXPECT_EQ(m["missing"], json{"data/a.bin"});
  ASSERT_EQ(m["files"].size(), 3u);
  for (const auto& f : m["files"]) {
    if (f["key"] != "data/a.bin") continue;
    EXPECT_EQ(f["crc32c"], crc32c_hex(crc_of("alpha"))) << m.dump();
    EXPECT_EQ(f["size"], 5);
    EXPECT_FALSE(f.contains("in_progress"));
  }
  EXPECT_EQ(read(stored_path("data/a.bin")), "alpha");
  // The next round stores it, and the manifest is whole again.
  RoundResult next = round(changes);
  EXPECT_TRUE(next.ok()) << next.error_summary();
  EXPECT_EQ(next.stored, 1u);
  m = manifest();
  EXPECT_EQ(m["complete"], true);
  EXPECT_EQ(m["files"].size(), 3u);
  EXPECT_EQ(read(stored_path("data/a.bin")), "alpha, version 2");
}

TEST_F(RoundTest, CancelStopsTheRound) {
  for (int i = 0; i < 20; ++i) write(root_ + "/many/" + std::to_string(i), "x");
  class Cancelling : public RecordingStore {
   public:
    explicit Cancelling(Cancel& cancel) : cancel_(cancel) {}

   protected:
    PutResult on_file(const std::string& key, const std::string& source, const Control& control) override {
      cancel_.request(Clock::now());  // the grace period ends while the first file is stored
      return RecordingStore::on_file(key, source, control);
    }
    Cancel& cancel_;
  } store(cancel_);
  RoundResult r = round(store);
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(store.calls().size(), 1u);  // one file, no manifest
  EXPECT_NE(r.error_summary().find("grace period"), std::string::npos);
}

TEST_F(RoundTest, CancelStopsTheBackoff) {
  FlakyStore store(1000, /*retryable=*/true);
  RoundRequest request{&entry_, nullptr, 1, true, true, RetryPolicy{4, 2000ms, 5000ms}};
  // Cancelled while it waits before its second attempt (a wait of up to 4 s).
  std::thread canceller([&] {
    wait_until([&] { return !store.calls().empty(); });
    cancel_.request(Clock::now());
  });
  auto started = std::chrono::steady_clock::now();
  RoundResult r = run(request, store);
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.ok());
  EXPECT_LE(store.calls().size(), 2u);  // 2 only if the first wait drew almost 0
  EXPECT_EQ(store.count("data.manifest.json"), 0u);
}

// ---------------------------------------------------------------------------------------
// The manifest protocol and what a round finds in the store

// Checks the promise at every call: whenever a file is about to be replaced, and again
// once it has been, the manifest in the store vouches only for objects it describes (an
// entry not in progress has the stored object's size and CRC-32C), and a complete
// manifest has nothing in progress.
class Auditing : public RecordingStore {
 public:
  Auditing(const std::string& store_dir, const std::string& manifest_key)
      : RecordingStore(std::make_shared<FileStore>(store_dir), 4), dir_(store_dir), manifest_(manifest_key) {}
  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  std::size_t audits() const { return audits_; }

 protected:
  PutResult on_file(const std::string& key, const std::string& source, const Control& control) override {
    audit("before storing " + key);
    PutResult r = RecordingStore::on_file(key, source, control);
    audit("after storing " + key);
    return r;
  }

 private:
  void audit(const std::string& when) {
    ++audits_;
    std::string text = read(dir_ + "/" + manifest_);
    if (text.empty()) return;  // none yet
    auto parsed = parse_manifest(text);
    std::lock_guard lock(mutex_);
    if (!parsed) {
      violations_.push_back(when + ": " + parsed.error());
      return;
    }
    for (const auto& e : parsed->files) {
      if (parsed->complete && e.in_progress) violations_.push_back(when + ": complete with " + e.key + " in progress");
      if (e.in_progress) continue;
      std::string stored = read(dir_ + "/" + e.key);
      if (stored.size() != e.stamp.size || crc_of(stored) != e.crc32c)
        violations_.push_back(when + ": the manifest vouches for " + e.key + " as " + crc32c_hex(e.crc32c) +
                              ", the store holds " + crc32c_hex(crc_of(stored)));
    }
  }
  std::string dir_, manifest_;
  mutable std::mutex mutex_;
  std::vector<std::string> violations_;
  std::atomic<std::size_t> audits_{0};
};

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST_F(RoundTest, NoStoredManifestEverVouchesForAnObjectBeingReplaced) {
  for (int i = 0; i < 12; ++i) write(root_ + "/many/" + std::to_string(i), "v1 of " + std::to_string(i));
  Auditing store(store_dir_, "data.manifest.json");
  ASSERT_TRUE(round(store).ok());
  for (int version = 2; version <= 4; ++version) {
    for (int i = 0; i < 12; i += version) write(root_ + "/many/" + std::to_string(i), "v" + std::to_string(version));
    write(root_ + "/new-" + std::to_string(version), "new");
    RoundResult r = round(store);
    EXPECT_TRUE(r.ok()) << r.error_summary();
  }
  // A new run (nothing known: the stored manifest is read first) replaces everything.
  state_ = EntryState{};
  for (int i = 0; i < 12; ++i) write(root_ + "/many/" + std::to_string(i), "v5 " + std::to_string(i));
  RoundResult fresh = round(store, /*final=*/true);
  EXPECT_TRUE(fresh.ok()) << fresh.error_summary();
  EXPECT_GT(store.audits(), 50u);
  EXPECT_TRUE(store.violations().empty()) << join_lines(store.violations());
  json m = manifest();
  EXPECT_EQ(m["complete"], true);
  EXPECT_EQ(m["in_progress"], false);
  EXPECT_EQ(m["files"].size(), 18u);
}

// The marking manifest is stored before the files: same entries, those to be replaced
// in progress, not complete.
TEST_F(RoundTest, TheManifestIsMarkedInProgressBeforeAVouchedFileIsReplaced) {
  FileStore files(store_dir_);
  ASSERT_TRUE(round(files).ok());
  write(root_ + "/a.bin", "alpha 2");
  class Snooping : public RecordingStore {
   public:
    using RecordingStore::RecordingStore;
    json seen;

   protected:
    PutResult on_file(const std::string& key, const std::string& source, const Control& control) override {
      if (key == "data/a.bin") seen = json::parse(read(dir + "/data.manifest.json"));
      return RecordingStore::on_file(key, source, control);
    }

   public:
    std::string dir;
  } store(std::make_shared<FileStore>(store_dir_));
  store.dir = store_dir_;
  ASSERT_TRUE(round(store).ok());
  ASSERT_TRUE(store.seen.is_object());
  EXPECT_EQ(store.seen["complete"], false);
  EXPECT_EQ(store.seen["in_progress"], true);
  EXPECT_EQ(store.seen["round"], 2);
  ASSERT_EQ(store.seen["files"].size(), 3u);
  for (const auto& f : store.seen["files"])
    EXPECT_EQ(f.value("in_progress", false), f["key"] == "data/a.bin") << f.dump();
  EXPECT_EQ(store.count("data.manifest.json"), 2u);
  EXPECT_EQ(manifest()["complete"], true);
  EXPECT_EQ(manifest()["in_progress"], false);
}

// Only new files: the stored manifest vouches for none of them, so it is stored once.
TEST_F(RoundTest, NewFilesAloneNeedNoMarking) {
  FileStore files(store_dir_);
  ASSERT_TRUE(round(files).ok());
  write(root_ + "/brand-new", "n");
  RecordingStore store(std::make_shared<FileStore>(store_dir_));
  ASSERT_TRUE(round(store).ok());
  EXPECT_EQ(store.count("data.manifest.json"), 1u);
  EXPECT_EQ(store.calls().front(), "data/brand-new");
}

// The marking cannot be stored: the files it would cover wait (the old versions stay,
// vouched for), new files still go, and the round says what happened.
TEST_F(RoundTest, WithoutTheMarkingVouchedFilesAreNotReplaced) {
  FileStore files(store_dir_);
  ASSERT_TRUE(round(files).ok());
  write(root_ + "/a.bin", "alpha 2");
  write(root_ + "/brand-new", "n");
  class NoMarking : public RecordingStore {
   public:
    using RecordingStore::RecordingStore;

   protected:
    PutResult on_bytes(const std::string& key, std::string_view data, const Control& control) override {
      if (data.find("\"in_progress\":true") != std::string_view::npos) return failure(false, key + ": 403 AccessDenied");
      return RecordingStore::on_bytes(key, data, control);
    }
  } store(std::make_shared<FileStore>(store_dir_));
  RoundResult r = round(store);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.stored, 1u);
  EXPECT_EQ(store.count("data/a.bin"), 0u);
  EXPECT_EQ(read(stored_path("data/a.bin")), "alpha");
  EXPECT_EQ(read(stored_path("data/brand-new")), "n");
  EXPECT_NE(r.error_summary().find("could not first mark them in progress"), std::string::npos) << r.error_summary();
  json m = manifest();
  EXPECT_EQ(m["complete"], false);
  EXPECT_EQ(m["missing"], json{"data/a.bin"});
  for (const auto& f : m["files"]) {
    if (f["key"] == "data/a.bin") {
      EXPECT_EQ(f["crc32c"], crc32c_hex(crc_of("alpha")));
    }
  }
}

// A manifest that is not one of ours (or cannot be read) may be trusted by a reader: it
// is replaced by one that vouches for nothing before any file is stored.
TEST_F(RoundTest, AForeignManifestIsReplacedBeforeAnyFile) {
  write(store_dir_ + "/data.manifest.json", R"({"complete": true, "files": "all of them"})");
  write(store_dir_ + "/data/a.bin", "an older alpha");
  class FirstSight : public RecordingStore {
   public:
    using RecordingStore::RecordingStore;
    std::string dir;
    std::string first;

   protected:
    PutResult on_file(const std::string& key, const std::string& source, const Control& control) override {
      {
        std::lock_guard lock(m_);
        if (first.empty()) first = read(dir + "/data.manifest.json");
      }
      return RecordingStore::on_file(key, source, control);
    }
    std::mutex m_;
  } store(std::make_shared<FileStore>(store_dir_));
  store.dir = store_dir_;
  ASSERT_TRUE(round(store).ok());
  EXPECT_EQ(store.gets(), std::vector<std::string>{"data.manifest.json"});
  json seen = json::parse(store.first);
  EXPECT_EQ(seen["complete"], false);
  EXPECT_EQ(seen["in_progress"], true);
  EXPECT_TRUE(seen["files"].empty());
  EXPECT_EQ(manifest()["complete"], true);
  EXPECT_EQ(read(stored_path("data/a.bin")), "alpha");
}

// Temporary files that a killed run left in a file:// store are removed by the next
// run; a user's file that merely looks like one is stored and kept.
TEST_F(RoundTest, TemporariesOfAKilledRunAreRemoved) {
  write(store_dir_ + "/data/.a.bin.tmp-AbC123", "half of alpha");
  write(store_dir_ + "/data/sub/deep/.x.tmp-QQQQQ9", "half");
  write(store_dir_ + "/.data.manifest.json.tmp-zz00ZZ", "{\"half");
  write(store_dir_ + "/.other.tmp-ABCDEF", "another entry's");
  write(store_dir_ + "/data/.not.tmp-toolong", "not a temporary name");
  write(root_ + "/.mine.tmp-ABCDEF", "a user's own file");
  FileStore store(store_dir_);
  ASSERT_TRUE(round(store).ok());
  EXPECT_FALSE(stdfs::exists(store_dir_ + "/data/.a.bin.tmp-AbC123"));
  EXPECT_FALSE(stdfs::exists(store_dir_ + "/data/sub/deep/.x.tmp-QQQQQ9"));
  EXPECT_FALSE(stdfs::exists(store_dir_ + "/.data.manifest.json.tmp-zz00ZZ"));
  EXPECT_TRUE(stdfs::exists(store_dir_ + "/.other.tmp-ABCDEF"));
  EXPECT_TRUE(stdfs::exists(store_dir_ + "/data/.not.tmp-toolong"));
  EXPECT_EQ(read(stored_path("data/.mine.tmp-ABCDEF")), "a user's own file");
  // A later run keeps the user's file, stored and listed.
  state_ = EntryState{};
  ASSERT_TRUE(round(store).ok());
  EXPECT_EQ(read(stored_path("data/.mine.tmp-ABCDEF")), "a user's own file");
}

// Every request fails: once the store has failed everything for the window, the rest
// of the round fails at once, with one error for all of it.
TEST_F(RoundTest, ADownStoreFailsTheRestOfTheRoundAtOnce) {
  for (int i = 0; i < 200; ++i) write(root_ + "/many/" + std::to_string(i), "x");
  class Dead : public RecordingStore {
   public:
    Dead() : RecordingStore(nullptr, 2, 300ms) {}

   protected:
    PutResult on_file(const std::string& key, const std::string&, const Control& control) override {
      control.failed(key + ": Couldn't connect to server");
      return failure(true, key + ": Couldn't connect to server");
    }
    PutResult on_bytes(const std::string& key, std::string_view, const Control& control) override {
      control.failed(key + ": Couldn't connect to server");
      return failure(true, key + ": Couldn't connect to server");
    }
  } store;
  RoundRequest request{&entry_, nullptr, 1, true, true, RetryPolicy{4, 20ms, 40ms}};
  auto started = Clock::now();
  RoundResult r = run(request, store);
  auto took = Clock::now() - started;
  EXPECT_LT(took, 10s);  // 203 files x 4 attempts x ~30 ms would be ~12 s on 2 workers
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, 203u);
  EXPECT_EQ(r.stored, 0u);
  EXPECT_EQ(r.store_down.rfind("the store is down: ", 0), 0u) << r.store_down;
  EXPECT_NE(r.store_down.find(" requests in a row failed over "), std::string::npos) << r.store_down;
  EXPECT_LT(store.calls().size(), 203u * 4 / 2) << "most files must not have been tried";
  EXPECT_EQ(store.count("data.manifest.json"), 0u);
  std::string summary = r.error_summary();
  EXPECT_NE(summary.find("203 files not stored"), std::string::npos) << summary;
  EXPECT_NE(summary.find("the store is down"), std::string::npos) << summary;
  // The next round tries again, and a store that answers is not down.
  write(root_ + "/a.bin", "alpha 2");
  FileStore alive(store_dir_);
  RoundResult next = run(request, alive);
  EXPECT_TRUE(next.ok()) << next.error_summary();
  EXPECT_EQ(next.stored, 203u);
}

// A name the store cannot hold is skipped and counted, never stored under another key.
TEST_F(RoundTest, NamesTheStoreCannotHoldAreSkipped) {
  write(root_ + "/bad\xff" "name", "bytes");
  class Utf8Only : public RecordingStore {
   public:
    using RecordingStore::RecordingStore;
    std::string key_problem(const std::string& key) const override {
      return key.find('\xff') != std::string::npos ? "its name is not UTF-8" : "";
    }
  } store(std::make_shared<FileStore>(store_dir_));
  RoundResult r = round(store);
  EXPECT_TRUE(r.ok()) << r.error_summary();
  EXPECT_EQ(r.stored, 3u);
  EXPECT_EQ(r.skipped, 1u);
  for (const auto& c : store.calls()) EXPECT_EQ(c.find('\xff'), std::string::npos);
  EXPECT_EQ(manifest()["files"].size(), 3u);
}

// file:// stores every name the local file system allows, exactly: names of 244-255
// bytes (the temporary name is cut to fit) and names that are not UTF-8 (exact in the
// manifest's key_base64), so two files never share a key.
TEST_F(RoundTest, FileStoreKeepsEveryLocalNameExactly) {
  std::string longest(255, 'n');
  std::string long_244(244, 'm');
  std::string bad1 = "x\xff", bad2 = "x\xfe";  // both would read "x\uFFFD"
  write(root_ + "/" + longest, "255");
  write(root_ + "/" + long_244, "244");
  write(root_ + "/" + bad1, "one");
  write(root_ + "/" + bad2, "two");
  FileStore store(store_dir_);
  RoundResult r = round(store);
  EXPECT_TRUE(r.ok()) << r.error_summary();
  EXPECT_EQ(r.stored, 7u);
  EXPECT_EQ(read(stored_path("data/" + longest)), "255");
  EXPECT_EQ(read(stored_path("data/" + long_244)), "244");
  EXPECT_EQ(read(stored_path("data/" + bad1)), "one");
  EXPECT_EQ(read(stored_path("data/" + bad2)), "two");
  auto parsed = parse_manifest(read(store_dir_ + "/data.manifest.json"));
  ASSERT_TRUE(parsed) << parsed.error();
  std::set<std::string> listed;
  for (const auto& e : parsed->files) listed.insert(e.key);
  EXPECT_EQ(listed.size(), 7u);
  EXPECT_TRUE(listed.count("data/" + bad1));
  EXPECT_TRUE(listed.count("data/" + bad2));
  EXPECT_TRUE(listed.count("data/" + longest));
}

// The torn copy never replaces the good one: a file rewritten (in place, all 'A' then
// all 'B' and back) while the file store copies it. Every put either commits one whole
// version or reports the change and leaves the stored copy as it was.
TEST(FileStore, NeverRenamesACopyThatChangedWhileRead) {
  Dir dir;
  const std::size_t size = 8u << 20;
  std::string source = dir / "model.pt";
  write(source, std::string(size, 'A'));
  FileStore store(dir / "store");
  ASSERT_TRUE(store.put_file("model.pt", source, Control{}).ok);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int fd = ::open(source.c_str(), O_WRONLY | O_CLOEXEC);
    std::string chunk(256 << 10, 'A');
    for (int v = 0; !stop; ++v) {
      std::fill(chunk.begin(), chunk.end(), v % 2 ? 'A' : 'B');
      for (std::size_t off = 0; off < size && !stop; off += chunk.size()) {
        if (::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(off)) < 0) break;
        std::this_thread::sleep_for(200us);
      }
    }
    ::close(fd);
  });
  std::size_t changed = 0, committed = 0;
  auto whole = [](const std::string& bytes) {
    return bytes.size() > 0 && bytes.find_first_not_of(bytes[0]) == std::string::npos;
  };
  auto until = Clock::now() + 30s;
  while (changed < 3 && Clock::now() < until) {
    std::string before = read(dir / "store/model.pt");
    PutResult r = store.put_file("model.pt", source, Control{});
    ASSERT_TRUE(r.ok) << r.error;
    std::string after = read(dir / "store/model.pt");
    ASSERT_EQ(after.size(), size);
    ASSERT_TRUE(whole(after)) << "a torn copy was committed";
    if (r.changed) {
      ++changed;
      EXPECT_TRUE(after == before) << "a change-during-read replaced the stored copy";
    } else {
      ++committed;
      EXPECT_EQ(crc_of(after), r.crc32c);
    }
  }
  stop = true;
  writer.join();
  EXPECT_GE(changed, 3u) << "the writer never changed the file during a copy (" << committed << " commits)";
  for (const auto& e : stdfs::recursive_directory_iterator(dir / "store"))
    EXPECT_FALSE(fs::is_temporary_name(e.path().filename().string())) << e.path();
}

// ---------------------------------------------------------------------------------------
// Engine

// Counts put_file calls in flight at once; each takes `hold` (or until released).
class SlowStore : public RecordingStore {
 public:
  explicit SlowStore(std::chrono::milliseconds hold) : hold_(hold) {}
  std::atomic<int> in_flight{0};
  std::atomic<int> most_in_flight{0};
  std::atomic<bool> released{false};

 protected:
  PutResult on_file(const std::string& key, const std::string& source, const Control& control) override {
    int now = ++in_flight;
    int most = most_in_flight.load();
    while (now > most && !most_in_flight.compare_exchange_weak(most, now)) {
    }
    auto until = std::chrono::steady_clock::now() + hold_;
    while (!released && !control.cancelled() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(1ms);
    --in_flight;
    return RecordingStore::on_file(key, source, control);
  }

 private:
  std::chrono::milliseconds hold_;
};

// Runs `io` until `done` holds (or 10 s pass).
void run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  auto guard = boost::asio::make_work_guard(io);
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!done() && std::chrono::steady_clock::now() < until) {
    io.restart();
    io.run_for(5ms);
  }
}

// The periodic timer fires in the same turn of the loop in which the final round is
// asked for: its handler is already queued and cancel() cannot take it back. The final
// round must run alone, not beside a periodic round started by that handler.
TEST(CheckpointEngine, FinalRoundIsNotJoinedByAPeriodicRoundAlreadyDue) {
  Dir dir;
  write(dir / "data/a", "a");
  auto store = std::make_shared<SlowStore>(200ms);
  spec::Checkpoint e = entry_for(dir / "data", dir / "store");
  e.frequency = 50ms;
  boost::asio::io_context io;
  Engine engine(io, {{e, store}}, Settings{true, fast_retry()});
  engine.start();  // the first round is due in 50 ms
  bool done = false;
  boost::asio::steady_timer stop(io);
  stop.expires_after(40ms);  // due before it, so its handler runs first
  stop.async_wait([&](const boost::system::error_code&) { engine.run_final([&] { done = true; }); });
  // Not a wait for something to happen: both timers must be due before the loop runs.
  std::this_thread::sleep_for(100ms);
  run_until(io, [&] { return done; });
  ASSERT_TRUE(done);
  EXPECT_EQ(store->most_in_flight.load(), 1);
  EXPECT_EQ(store->count("data/a"), 1u);
  auto statuses = engine.statuses();
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].rounds, 1u);
  ASSERT_TRUE(statuses[0].final.has_value());
  EXPECT_TRUE(statuses[0].final->ok);
  EXPECT_EQ(statuses[0].final->files_stored, 1u);
  EXPECT_FALSE(engine.abandoned_work());
  store->released = true;
}

TEST(CheckpointEngine, PeriodicRoundsThenFinalStoresOnlyChanges) {
  Dir dir;
  write(dir / "data/a", "a");
  auto store = std::make_shared<RecordingStore>(std::make_shared<FileStore>(dir / "store"));
  spec::Checkpoint e = entry_for(dir / "data", dir / "store");
  e.frequency = 20ms;
  boost::asio::io_context io;
  Engine engine(io, {{e, store}}, Settings{true, fast_retry()});
  engine.start();
  run_until(io, [&] { return store->count("data.manifest.json") >= 3; });
  ASSERT_GE(store->count("data.manifest.json"), 3u);
  EXPECT_EQ(store->count("data/a"), 1u);  // stored once, unchanged since
  bool done = false;
  engine.run_final([&] { done = true; });
  run_until(io, [&] { return done; });
  ASSERT_TRUE(done);
  auto s = engine.statuses().at(0);
  EXPECT_GE(s.rounds, 4u);
  EXPECT_EQ(s.failed_rounds, 0u);
  ASSERT_TRUE(s.final.has_value());
  EXPECT_TRUE(s.final->ok);
  EXPECT_EQ(s.final->files_stored, 0u);
  EXPECT_EQ(s.final->files_unchanged, 1u);
  EXPECT_EQ(json::parse(read(dir / "store/data.manifest.json"))["final"], true);
}

TEST(CheckpointEngine, AbandonReportsTheGracePeriod) {
  Dir dir;
  write(dir / "data/a", "a");
  auto store = std::make_shared<SlowStore>(60s);  // a store that hangs until released
  spec::Checkpoint e = entry_for(dir / "data", dir / "store");
  e.frequency = 1h;
  boost::asio::io_context io;
  Engine engine(io, {{e, store}}, Settings{true, fast_retry()});
  engine.start();
  bool done = false;
  engine.run_final([&] { done = true; });
  ASSERT_TRUE(wait_until([&] { return store->in_flight.load() == 1; }));
  engine.abandon();
  EXPECT_TRUE(engine.abandoned_work());
  auto s = engine.statuses().at(0);
  ASSERT_TRUE(s.final.has_value());
  EXPECT_FALSE(s.final->ok);
  ASSERT_TRUE(s.final->error.has_value());
  EXPECT_NE(s.final->error->find("grace period"), std::string::npos) << *s.final->error;
  EXPECT_FALSE(done);
  store->released = true;  // the abandoned worker ends on its own, touching nothing here
}

}  // namespace
}  // namespace supervise::checkpoint
