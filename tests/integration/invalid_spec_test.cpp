// Every file in tests/testdata/invalid/ against the built binary, table-driven over the
// directory listing: a new file there is covered without touching this test. The
// expected messages come from tests/testdata/invalid/README.md ("- `FILE`: `TEXT`",
// more backquoted texts on the line are also required).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;

namespace fs = std::filesystem;

// README.md: file name -> every backquoted text after it on its line.
std::map<std::string, std::vector<std::string>> expected_messages() {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& line : lines(read_file(testdata("invalid/README.md")))) {
    if (line.rfind("- `", 0) != 0) continue;
    std::vector<std::string> quoted;
    std::size_t pos = 0;
    for (;;) {
      std::size_t open = line.find('`', pos);
      if (open == std::string::npos) break;
      std::size_t close = line.find('`', open + 1);
      if (close == std::string::npos) break;
      quoted.push_back(line.substr(open + 1, close - open - 1));
      pos = close + 1;
    }
    if (quoted.size() < 2) continue;
    out[quoted[0]] = std::vector<std::string>(quoted.begin() + 1, quoted.end());
  }
  return out;
}

std::vector<std::string> invalid_files() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(testdata("invalid")))
    if (entry.is_regular_file() && entry.path().filename() != "README.md")
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

class InvalidSpec : public testing::TestWithParam<std::string> {
 protected:
  std::string file() const { return testdata("invalid/" + GetParam()); }
  std::vector<std::string> expected() const {
    auto all = expected_messages();
    auto it = all.find(GetParam());
    return it == all.end() ? std::vector<std::string>{} : it->second;
  }
  // Each stderr line is "supervise: FILE: ..." and the expected texts are all there.
  void expect_messages(const std::string& err) const {
    auto err_lines = lines(err);
    ASSERT_FALSE(err_lines.empty());
    for (const auto& line : err_lines)
      EXPECT_EQ(line.rfind("supervise: " + file() + ": ", 0), 0u) << line;
    for (const auto& text : expected())
      EXPECT_NE(err.find(text), std::string::npos) << "expected: " << text;
  }
};

TEST_P(InvalidSpec, IsListedInTheReadme) {
  EXPECT_FALSE(expected().empty())
      << GetParam() << " has no line in tests/testdata/invalid/README.md";
}

TEST_P(InvalidSpec, RunExits125WithTheMessageAndAFailStatus) {
  TempDir dir;
  std::string status = dir / "status.json";
  RunOptions options;
  options.cwd = dir.path();  // a task that ran anyway must not litter the source tree
  auto r = run({"--status-file", status, "--spec", file()}, options);
  SCOPED_TRACE("stderr:\n" + r.err);
  EXPECT_EQ(r.exit_code, 125);
  expect_messages(r.err);
  ASSERT_TRUE(fs::exists(status));
  auto s = read_json(status);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 125);
  EXPECT_EQ(s["supervisor_exit_code"], 125);
  ASSERT_TRUE(s["error"].is_string());
  EXPECT_EQ(s["error"].get<std::string>().rfind("invalid input: ", 0), 0u) << s["error"];
  for (const auto& text : expected())
    EXPECT_NE(s["error"].get<std::string>().find(text), std::string::npos)
        << "status error lacks: " << text;
  EXPECT_TRUE(s["started_at"].is_null());
  EXPECT_TRUE(s["duration_seconds"].is_null());
}

TEST_P(InvalidSpec, ValidateExits125WithTheMessage) {
  // --validate without --task checks every task of a workflow, so "choose one with
  // --task" is a problem of running only: there it must check (and name) every task.
  for (const auto& text : expected()) {
    if (text.find("choose one with --task") == std::string::npos) continue;
    auto r = run({"--validate", "--spec", file()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "ok: first\nok: second\n");
    return;
  }
  auto r = run({"--validate", "--spec", file()});
  SCOPED_TRACE("stderr:\n" + r.err);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out.find("ok: "), std::string::npos) << r.out;
  expect_messages(r.err);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, InvalidSpec, testing::ValuesIn(invalid_files()), test_name);

TEST(InvalidSpecReadme, EveryLineNamesAnExistingFile) {
  auto files = invalid_files();
  for (const auto& [name, texts] : expected_messages())
    EXPECT_NE(std::find(files.begin(), files.end(), name), files.end())
        << name << " is in README.md but not on disk";
}

TEST(InvalidSpecReadme, TheDirectoryIsNotEmpty) {
  EXPECT_GE(invalid_files().size(), 20u);
}

}  // namespace
