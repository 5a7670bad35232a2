// Checkpoint entries that clash (spec/checkpoint_places.hpp): two entries writing the
// same keys on one store, or a file:// store in its own path. Table-driven: every row is
// a list of entries and every message expected, exactly; near misses must stay valid.
// The real-path variant is checked on a temporary directory with symbolic links.
#include "supervise/spec/checkpoint_places.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace supervise::spec {
namespace {

struct Entry {
  Entry(std::string p, std::string u, std::string pl = "")
      : path(std::move(p)), url(std::move(u)), place(std::move(pl)) {}
  std::string path;
  std::string url;
  std::string place;  // empty: "checkpoint[<index>]"
};

std::vector<Checkpoint> entries_of(const std::vector<Entry>& entries) {
  std::vector<Checkpoint> out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Checkpoint cp;
    cp.path = entries[i].path;
    auto url = parse_store_url(entries[i].url);
    if (!url) throw std::runtime_error(entries[i].url + ": " + url.error());
    cp.url = *url;
    cp.place =
        entries[i].place.empty() ? "checkpoint[" + std::to_string(i) + "]" : entries[i].place;
    out.push_back(std::move(cp));
  }
  return out;
}

using Problems = std::vector<std::pair<std::size_t, std::string>>;

Problems as_pairs(const std::vector<PlaceProblem>& problems) {
  Problems out;
  for (const auto& p : problems) out.emplace_back(p.entry, p.message);
  return out;
}

std::string dump(const Problems& problems) {
  std::string out;
  for (const auto& [entry, message] : problems)
    out += "\n  [" + std::to_string(entry) + "] " + message;
  return out.empty() ? "\n  (none)" : out;
}

struct Row {
  std::string name;
  std::vector<Entry> entries;
  Problems expected;  // all of them, in order; empty: valid
};
void PrintTo(const Row& row, std::ostream* os) {
  *os << row.name;
}

const std::string kBoth = ": both would overwrite each other's files";
const std::string kIntoItself = ": each round would copy the store into itself";
const std::string kOntoThemselves = ": each round would copy its files onto themselves";
const std::string kAmongThemselves = ": each round would copy its files among themselves";
const std::string kCliA = "--checkpoint path=/a/ck,url=s3://bucket/run,frequency=1m";
const std::string kCliB = "--checkpoint path=/b/ck,url=s3://bucket/run,frequency=1m";

std::vector<Row> rows() {
  return {
      // --- valid: near misses -----------------------------------------------------------
      {"one_s3_entry", {{"/a/ck", "s3://bucket/run"}}, {}},
      {"no_entries", {}, {}},
      {"same_url_other_basenames",
       {{"/a/ck", "s3://bucket/run"}, {"/b/ck2", "s3://bucket/run"}},
       {}},
      {"same_url_ck_and_ck_dot_d",
       {{"/a/ck", "s3://bucket/run"}, {"/a/ck.d", "s3://bucket/run"}},
       {}},
      {"same_file_url_other_basenames", {{"/a/ck", "file:///s"}, {"/a/ck2", "file:///s"}}, {}},
      {"different_buckets", {{"/a/ck", "s3://bucket-a/run"}, {"/b/ck", "s3://bucket-b/run"}}, {}},
      {"different_prefixes", {{"/a/ck", "s3://bucket/run1"}, {"/b/ck", "s3://bucket/run2"}}, {}},
      {"prefix_is_not_a_component_prefix",
       {{"/a/ck", "s3://bucket/run"}, {"/b/x", "s3://bucket/run/ck2"}},
       {}},
      {"bucket_root_and_prefix", {{"/a/ck", "s3://bucket"}, {"/b/ck", "s3://bucket/run"}}, {}},
      {"different_file_dirs", {{"/a/ck", "file:///s1"}, {"/b/ck", "file:///s2"}}, {}},
      {"file_and_s3_same_looking", {{"/a/ck", "file:///run"}, {"/b/ck", "s3://bucket/run"}}, {}},
      {"file_dir_next_to_a_key", {{"/a/ck", "file:///s"}, {"/b/x", "file:///s/ck2"}}, {}},
      {"manifest_name_is_no_prefix",
       {{"/a/ck", "s3://bucket/run"}, {"/b/ck.manifest", "s3://bucket/run"}},
       {}},
      {"store_dir_beside_the_path", {{"/data/ck", "file:///data/store"}}, {}},
      {"store_dir_named_like_the_path", {{"/data/ck", "file:///data/ckpt"}}, {}},
      {"path_inside_the_store_dir_elsewhere", {{"/data/store/x/ck", "file:///data/store"}}, {}},
      {"store_at_the_root", {{"/data/ck", "file:///"}}, {}},
      {"s3_never_inside_a_path", {{"/data/ck", "s3://data/ck"}}, {}},
      {"single_file_entry",
       {{"/data/model.pt", "file:///out"}, {"/data/model.pt.d", "file:///out"}},
       {}},

      // --- the same place on one store ---------------------------------------------------
      {"same_s3_url_same_basename",
       {{"/a/ck", "s3://bucket/run"}, {"/b/ck", "s3://bucket/run"}},
       {{1, "stores to the same place as checkpoint[0] (\"s3://bucket/run/ck\")" + kBoth}}},
      {"same_s3_url_written_differently",
       {{"/a/ck", "s3://bucket/run"}, {"/b/ck", "s3://bucket/run/"}},
       {{1, "stores to the same place as checkpoint[0] (\"s3://bucket/run/ck\")" + kBoth}}},
      {"same_bucket_without_prefix",
       {{"/a/ck", "s3://bucket"}, {"/b/ck", "s3://bucket"}},
       {{1, "stores to the same place as checkpoint[0] (\"s3://bucket/ck\")" + kBoth}}},
      {"same_file_url_same_basename",
       {{"/a/ck", "file:///s"}, {"/b/ck", "file:///s/"}},
       {{1, "stores to the same place as checkpoint[0] (\"file:///s/ck\")" + kBoth}}},
      {"the_same_entry_twice",
       {{"/a/ck", "file:///s"}, {"/a/ck", "file:///s"}},
       {{1, "stores to the same place as checkpoint[0] (\"file:///s/ck\")" + kBoth}}},
      {"s3_key_inside_the_other",
       {{"/a/ck", "s3://bucket/run"}, {"/x/data", "s3://bucket/run/ck"}},
       {{1,
         "stores to the same place as checkpoint[0] (\"s3://bucket/run/ck/data\" is inside "
         "\"s3://bucket/run/ck\")" +
             kBoth}}},
      {"s3_key_around_the_other",
       {{"/x/data", "s3://bucket/run/ck"}, {"/a/ck", "s3://bucket/run"}},
       {{1,
         "stores to the same place as checkpoint[0] (\"s3://bucket/run/ck/data\" is inside "
         "\"s3://bucket/run/ck\")" +
             kBoth}}},
      {"s3_key_inside_the_other_without_prefix",
       {{"/a/ck", "s3://bucket"}, {"/x/data", "s3://bucket/ck/deeper"}},
       {{1,
         "stores to the same place as checkpoint[0] (\"s3://bucket/ck/deeper/data\" is inside "
         "\"s3://bucket/ck\")" +
             kBoth}}},
      {"file_key_inside_the_other",
       {{"/a/ck", "file:///s"}, {"/b/x", "file:///s/ck"}},
       {{1,
         "stores to the same place as checkpoint[0] (\"file:///s/ck/x\" is inside "
         "\"file:///s/ck\")" +
             kBoth}}},
      {"s3_key_is_the_others_manifest",
       {{"/a/ck", "s3://bucket/run"}, {"/x/ck.manifest.json", "s3://bucket/run"}},
       {{1,
         "stores to the same place as checkpoint[0] (\"s3://bucket/run/ck.manifest.json\" is the "
         "manifest "
         "of one and the files of the other)" +
             kBoth}}},
      {"s3_manifest_is_the_others_key",
       {{"/x/ck.manifest.json", "s3://bucket/run"}, {"/a/ck", "s3://bucket/run"}},
       {{1,
         "stores to the same place as checkpoint[0] (\"s3://bucket/run/ck.manifest.json\" is the "
         "manifest "
         "of one and the files of the other)" +
             kBoth}}},
      {"file_key_inside_the_others_manifest",
       {{"/a/ck", "file:///s"}, {"/b/x", "file:///s/ck.manifest.json"}},
       {{1,
         "stores to the same place as checkpoint[0] (\"file:///s/ck.manifest.json/x\" is inside "
         "\"file:///s/ck.manifest.json\", a manifest)" +
             kBoth}}},
      {"three_entries_each_names_the_first",
       {{"/a/ck", "s3://bucket/run"}, {"/b/ck", "s3://bucket/run"}, {"/c/ck", "s3://bucket/run"}},
       {{1, "stores to the same place as checkpoint[0] (\"s3://bucket/run/ck\")" + kBoth},
        {2, "stores to the same place as checkpoint[0] (\"s3://bucket/run/ck\")" + kBoth}}},
      {"only_the_clashing_pair",
       {{"/a/ck", "s3://bucket/run"},
        {"/b/other", "s3://bucket/run"},
        {"/c/other", "s3://bucket/run"}},
       {{2, "stores to the same place as checkpoint[1] (\"s3://bucket/run/other\")" + kBoth}}},
      {"spec_places_named_as_given",
       {{"/a/ck", "s3://bucket/run", "tasks[0].checkpoint[0]"},
        {"/b/ck", "s3://bucket/run", "tasks[0].checkpoint[1]"}},
       {{1,
         "stores to the same place as tasks[0].checkpoint[0] (\"s3://bucket/run/ck\")" + kBoth}}},
      {"option_clashing_with_a_spec_entry",
       {{"/a/ck", "s3://bucket/run", "tasks[0].checkpoint[0]"},
        {"/b/ck", "s3://bucket/run", kCliB}},
       {{1,
         "stores to the same place as the spec's tasks[0].checkpoint[0] (\"s3://bucket/run/ck\")" +
             kBoth}}},
      {"two_options_clashing",
       {{"/a/ck", "s3://bucket/run", kCliA}, {"/b/ck", "s3://bucket/run", kCliB}},
       {{1, "stores to the same place as " + kCliA + " (\"s3://bucket/run/ck\")" + kBoth}}},

      // --- a file:// store in its own path, or the path where it is stored ---------------
      {"store_is_the_path",
       {{"/data/ck", "file:///data/ck"}},
       {{0, "url \"file:///data/ck\" is path \"/data/ck\" itself" + kIntoItself}}},
      {"store_inside_the_path",
       {{"/data/ck", "file:///data/ck/store"}},
       {{0, "url \"file:///data/ck/store\" is inside path \"/data/ck\"" + kIntoItself}}},
      {"store_deep_inside_the_path",
       {{"/data", "file:///data/a/b/c"}},
       {{0, "url \"file:///data/a/b/c\" is inside path \"/data\"" + kIntoItself}}},
      {"path_is_where_it_is_stored",
       {{"/data/ck", "file:///data"}},
       {{0, "path \"/data/ck\" is where url \"file:///data\" stores it" + kOntoThemselves}}},
      {"path_is_where_it_is_stored_deeper",
       {{"/s/ck/x/ck", "file:///s/ck/x"}},
       {{0, "path \"/s/ck/x/ck\" is where url \"file:///s/ck/x\" stores it" + kOntoThemselves}}},
      {"path_inside_where_it_is_stored",
       {{"/d/more/more", "file:///d"}},
       {{0,
         "path \"/d/more/more\" is inside \"file:///d/more\", where url \"file:///d\" stores it" +
             kAmongThemselves}}},
      {"path_at_the_top_stored_at_the_root",
       {{"/ck", "file:///"}},
       {{0, "path \"/ck\" is where url \"file:///\" stores it" + kOntoThemselves}}},
      {"both_rules_on_one_entry",
       {{"/a/ck", "file:///s"}, {"/s/ck", "file:///s"}},
       {{1, "path \"/s/ck\" is where url \"file:///s\" stores it" + kOntoThemselves},
        {1, "stores to the same place as checkpoint[0] (\"file:///s/ck\")" + kBoth}}},
  };
}

class CheckpointPlaces : public ::testing::TestWithParam<Row> {};

TEST_P(CheckpointPlaces, ReportsEveryClashExactly) {
  const Row& row = GetParam();
  auto got = as_pairs(place_problems(entries_of(row.entries)));
  EXPECT_EQ(got, row.expected) << "got:" << dump(got) << "\nwant:" << dump(row.expected);
  for (const auto& [entry, message] : got)
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Spec, CheckpointPlaces, ::testing::ValuesIn(rows()),
                         [](const auto& p) { return p.param.name; });

TEST(CheckpointPlacesMessage, UrlsAreRedactedAndQuoted) {
  // The loader never lets user information into a StoreUrl; the message hides it anyway.
  std::vector<Checkpoint> entries(2);
  for (auto& cp : entries) {
    cp.url.scheme = StoreUrl::Scheme::kS3;
    cp.url.bucket = "user:secret@bucket";
    cp.url.prefix = "run\nx";
    cp.url.text = "s3://user:secret@bucket/run\nx";
  }
  entries[0].path = "/a/ck";
  entries[1].path = "/b/ck";
  auto got = place_problems(entries);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].entry, 1u);
  EXPECT_EQ(got[0].message.find("secret"), std::string::npos) << got[0].message;
  EXPECT_NE(got[0].message.find("s3://***@bucket/run\\x0ax/ck"), std::string::npos)
      << got[0].message;
  EXPECT_NE(got[0].message.find("checkpoint entry 0"), std::string::npos) << got[0].message;
}

// ---- real paths ----------------------------------------------------------------------------

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "supervise-places-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
    // Its real path: the messages show real paths, and /tmp may itself be a link.
    path_ = real_path_of_existing(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CheckpointPlacesRealPath, ResolvesTheExistingPartAndKeepsTheRest) {
  TempDir dir;
  fs::create_directories(dir / "real/sub");
  fs::create_directory_symlink(dir / "real", dir / "link");
  EXPECT_EQ(real_path_of_existing(dir / "link"), dir / "real");
  EXPECT_EQ(real_path_of_existing(dir / "link/sub"), dir / "real/sub");
  EXPECT_EQ(real_path_of_existing(dir / "link/sub/not/yet"), dir / "real/sub/not/yet");
  EXPECT_EQ(real_path_of_existing(dir / "missing/x"), dir / "missing/x");
  EXPECT_EQ(real_path_of_existing("/"), "/");
  fs::create_directory_symlink(dir / "nowhere", dir / "dangling");
  EXPECT_EQ(real_path_of_existing(dir / "dangling/x"), dir / "dangling/x");
}

TEST(CheckpointPlacesRealPath, StoreInsideThePathThroughALink) {
  TempDir dir;
  fs::create_directories(dir / "real/ck");
  fs::create_directory_symlink(dir / "real", dir / "link");
  // The store's directory does not exist yet: its existing part is resolved.
  auto entries = entries_of({{dir / "real/ck", "file://" + dir / "link/ck/store"}});
  EXPECT_TRUE(place_problems(entries).empty());
  auto got = as_pairs(real_place_problems(entries));
  Problems want = {{0, "url \"file://" + dir / "link/ck/store" + "\" is inside path \"" +
                           dir / "real/ck" + "\" (symbolic links resolved: \"" +
                           dir / "real/ck/store" + "\" and \"" + dir / "real/ck" + "\")" +
                           kIntoItself}};
  EXPECT_EQ(got, want) << dump(got);
}

TEST(CheckpointPlacesRealPath, PathIsALinkToWhereItIsStored) {
  TempDir dir;
  fs::create_directories(dir / "store/data");
  fs::create_directory_symlink(dir / "store/data", dir / "data");
  auto entries = entries_of({{dir / "data", "file://" + dir / "store"}});
  EXPECT_TRUE(place_problems(entries).empty());
  auto got = as_pairs(real_place_problems(entries));
  Problems want = {{0, "path \"" + dir / "data" + "\" is where url \"file://" + dir / "store" +
                           "\" stores it (symbolic links resolved: \"" + dir / "store/data" +
                           "\" and \"" + dir / "store/data" + "\")" + kOntoThemselves}};
  EXPECT_EQ(got, want) << dump(got);
}

TEST(CheckpointPlacesRealPath, TwoStoresThroughALinkAreOne) {
  TempDir dir;
  fs::create_directories(dir / "store");
  fs::create_directory_symlink(dir / "store", dir / "alias");
  auto entries =
      entries_of({{"/a/ck", "file://" + dir / "store"}, {"/b/ck", "file://" + dir / "alias"}});
  EXPECT_TRUE(place_problems(entries).empty());
  auto got = as_pairs(real_place_problems(entries));
  Problems want = {{1, "stores to the same place as checkpoint[0] (\"file://" + dir / "store/ck" +
                           "\", symbolic links resolved)" + kBoth}};
  EXPECT_EQ(got, want) << dump(got);
}

TEST(CheckpointPlacesRealPath, NearMissesStayValid) {
  TempDir dir;
  fs::create_directories(dir / "data/ck");
  fs::create_directories(dir / "store");
  fs::create_directory_symlink(dir / "store", dir / "alias");
  auto entries = entries_of({{dir / "data/ck", "file://" + dir / "alias"},
                             {dir / "data/ck2", "file://" + dir / "store"},
                             {dir / "data/ck", "s3://bucket/run"}});
  EXPECT_TRUE(real_place_problems(entries).empty()) << dump(as_pairs(real_place_problems(entries)));
}

TEST(CheckpointPlacesRealPath, LexicalProblemsAreFoundToo) {
  TempDir dir;
  auto entries = entries_of({{dir / "ck", "file://" + dir.path()}});
  Problems want = {{0, "path \"" + dir / "ck" + "\" is where url \"file://" + dir.path() +
                           "\" stores it" + kOntoThemselves}};
  EXPECT_EQ(as_pairs(place_problems(entries)), want);
  EXPECT_EQ(as_pairs(real_place_problems(entries)), want);
}

}  // namespace
}  // namespace supervise::spec
