// Declared `files` (SPEC.md "Task spec"): written before the command starts, parents
// created, exact modes whatever the umask, base64, and a file that cannot be written.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;

namespace fs = std::filesystem;

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0xFFFFFFFF;
  return st.st_mode & 07777;
}

// A spec whose command copies each declared file to <path>.seen, proving the file was
// there (with its contents) before the command ran.
std::string copying_spec(const std::string& files_yaml, const std::vector<std::string>& paths) {
  std::string script;
  for (const auto& p : paths) script += "cp '" + p + "' '" + p + ".seen' && ";
  script += "true";
  return "name: files\ncommand: [/bin/sh, -c, \"" + script + "\"]\nfiles:\n" + files_yaml;
}

TEST(Files, WrittenBeforeTheCommandWithParentsCreated) {
  TempDir dir;
  std::string text = dir / "a/b/c/config.json";
  std::string blob = dir / "bin/blob.bin";
  write_file(dir / "spec.yaml", copying_spec("- path: " + text +
                                                 "\n"
                                                 "  contents: '{\"lr\": 0.001}'\n"
                                                 "- path: " +
                                                 blob +
                                                 "\n"
                                                 "  base64: true\n"
                                                 "  contents: AP8QIHN1cGVydmlzZQ==\n",
                                             {text, blob}));
  auto r = run({"--status-file", dir / "s.json", "--spec", dir / "spec.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(text), "{\"lr\": 0.001}");
  EXPECT_EQ(read_file(text + ".seen"), "{\"lr\": 0.001}");
  EXPECT_EQ(read_file(blob), std::string("\x00\xff\x10 supervise", 13));
  EXPECT_EQ(read_file(blob + ".seen"), std::string("\x00\xff\x10 supervise", 13));
  EXPECT_TRUE(fs::is_directory(dir / "a/b/c"));
}

TEST(Files, MultiLineContentsAreKeptExactly) {
  TempDir dir;
  std::string script = dir / "run.sh";
  write_file(dir / "spec.yaml",
             "name: t\n"
             "command: [/bin/sh, '" +
                 script +
                 "']\n"
                 "files:\n"
                 "- path: " +
                 script +
                 "\n"
                 "  contents: |-\n"
                 "    echo one\n"
                 "    echo two\n");
  auto r = run({"--spec", dir / "spec.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "one\ntwo\n");
  EXPECT_EQ(read_file(script), "echo one\necho two");
}

struct ModeCase {
  const char* declared;  // nullptr: no mode given
  mode_t umask;
  unsigned expected;
};

class FileMode : public testing::TestWithParam<ModeCase> {};

TEST_P(FileMode, IsExactWhateverTheUmask) {
  const auto& c = GetParam();
  TempDir dir;
  std::string path = dir / "out/file";
  std::string files = "- path: " + path + "\n  contents: hi\n";
  if (c.declared) files += std::string("  mode: \"") + c.declared + "\"\n";
  write_file(dir / "spec.yaml", "name: t\ncommand: [/bin/true]\nfiles:\n" + files);
  RunOptions options;
  options.umask = c.umask;
  auto r = run({"--spec", dir / "spec.yaml"}, options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(mode_of(path), c.expected) << "declared " << (c.declared ? c.declared : "(default)")
                                       << " umask 0" << std::oct << c.umask;
}

INSTANTIATE_TEST_SUITE_P(Modes, FileMode,
                         testing::Values(ModeCase{nullptr, 022, 0644}, ModeCase{nullptr, 077, 0644},
                                         ModeCase{nullptr, 0, 0644}, ModeCase{"0600", 022, 0600},
                                         ModeCase{"0755", 077, 0755}, ModeCase{"0777", 022, 0777},
                                         ModeCase{"0640", 0, 0640}, ModeCase{"0444", 077, 0444}));

TEST(Files, AnExistingFileIsReplacedWithTheDeclaredContentsAndMode) {
  TempDir dir;
  std::string path = dir / "existing.txt";
  write_file(path, "old contents that are longer than the new ones");
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  write_file(dir / "spec.yaml",
             "name: t\ncommand: [/bin/true]\nfiles:\n- path: " + path + "\n  contents: new\n");
  auto r = run({"--spec", dir / "spec.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(path), "new");
  EXPECT_EQ(mode_of(path), 0644u);
}

TEST(Files, EmptyContentsMakeAnEmptyFile) {
  TempDir dir;
  std::string path = dir / "empty";
  write_file(dir / "spec.yaml",
             "name: t\ncommand: [/bin/true]\nfiles:\n- path: " + path + "\n  contents: \"\"\n");
  auto r = run({"--spec", dir / "spec.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(path));
  EXPECT_EQ(read_file(path), "");
}

TEST(Files, AreWrittenForACommandFromTheCommandLineToo) {
  TempDir dir;
  std::string path = dir / "data.txt";
  write_file(dir / "spec.yaml",
             "name: t\ncommand: [/bin/false]\nfiles:\n- path: " + path + "\n  contents: payload\n");
  auto r = run({"--spec", dir / "spec.yaml", "--", "/bin/cat", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "payload");
}

// A declared file that cannot be written: 125, FAIL naming the path, the command never runs.
void expect_unwritable(const std::string& declared,
                       const std::vector<std::string>& extra_options = {},
                       int expected_exit = 125) {
  TempDir dir;
  std::string marker = dir / "ran";
  write_file(dir / "spec.yaml",
             "name: unwritable\n"
             "command: [/bin/sh, -c, \"touch '" +
                 marker +
                 "'\"]\n"
                 "files:\n"
                 "- path: " +
                 declared +
                 "\n"
                 "  contents: hi\n");
  std::vector<std::string> args = {"--status-file", dir / "s.json", "--spec", dir / "spec.yaml"};
  args.insert(args.end(), extra_options.begin(), extra_options.end());
  auto r = run(args);
  SCOPED_TRACE("stderr:\n" + r.err);
  EXPECT_EQ(r.exit_code, expected_exit);
  EXPECT_FALSE(fs::exists(marker)) << "the command must never run";
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["task"], "unwritable");
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 125);
  EXPECT_TRUE(s["started_at"].is_null());
  EXPECT_TRUE(s["duration_seconds"].is_null());
  EXPECT_EQ(s["supervisor_exit_code"], expected_exit);
  ASSERT_TRUE(s["error"].is_string());
  // BUG (when the parent is a regular file): the error names only the directory it could
  // not create ("cannot create directory D/blocker: Not a directory"), not the declared
  // file, so with several files the user cannot tell which one failed.
  EXPECT_NE(s["error"].get<std::string>().find(declared), std::string::npos) << s["error"];
}

TEST(Files, ParentIsARegularFile) {
  TempDir blocker_dir;
  write_file(blocker_dir / "blocker", "a regular file");
  expect_unwritable(blocker_dir / "blocker/x.txt");
}

TEST(Files, PathIsAnExistingDirectory) {
  TempDir dir;
  fs::create_directories(dir / "a-directory");
  expect_unwritable(dir / "a-directory");
}

TEST(Files, UnwritableUnderExitCodeFromActionExitsOne) {
  TempDir blocker_dir;
  write_file(blocker_dir / "blocker", "a regular file");
  expect_unwritable(blocker_dir / "blocker/x.txt", {"--exit-code-from", "action"}, 1);
}

TEST(Files, NoFileIsWrittenWhenTheSpecIsInvalid) {
  TempDir dir;
  std::string declared = dir / "declared/file.txt";
  write_file(dir / "spec.yaml",
             "name: t\n"
             "command: [/bin/sh, -c, \"touch '" +
                 dir / "ran" +
                 "'\"]\n"
                 "files:\n"
                 "- path: " +
                 declared +
                 "\n"
                 "  contents: hi\n"
                 "exitActions:\n"
                 "  COMPLETE: 0-1\n"
                 "  FAIL: 1-255\n");
  auto r = run({"--status-file", dir / "s.json", "--spec", dir / "spec.yaml"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_FALSE(fs::exists(declared));
  EXPECT_FALSE(fs::exists(dir / "declared"));
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_EQ(read_json(dir / "s.json")["action"], "FAIL");
}

TEST(Files, NoFileIsWrittenWhenAnOptionIsInvalid) {
  TempDir dir;
  std::string declared = dir / "declared/file.txt";
  write_file(dir / "spec.yaml",
             "name: t\ncommand: [/bin/true]\nfiles:\n- path: " + declared + "\n  contents: hi\n");
  auto r = run({"--status-file", dir / "s.json", "--timeout", "5x", "--spec", dir / "spec.yaml"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_FALSE(fs::exists(declared));
  EXPECT_FALSE(fs::exists(dir / "declared"));
}

TEST(Files, NoFileIsWrittenWhenALaterFileIsInvalid) {
  TempDir dir;
  std::string first = dir / "first.txt";
  write_file(dir / "spec.yaml",
             "name: t\ncommand: [/bin/true]\nfiles:\n"
             "- path: " +
                 first +
                 "\n  contents: hi\n"
                 "- path: " +
                 dir / "second.bin" + "\n  base64: true\n  contents: 'not*base64!'\n");
  auto r = run({"--spec", dir / "spec.yaml"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_FALSE(fs::exists(first));
}

TEST(Files, NoTemporaryFileIsLeftBeside) {
  TempDir dir;
  fs::create_directories(dir / "out");
  write_file(dir / "spec.yaml",
             "name: t\ncommand: [/bin/true]\nfiles:\n"
             "- path: " +
                 dir / "out/a" +
                 "\n  contents: a\n"
                 "- path: " +
                 dir / "out/b" + "\n  contents: b\n  mode: \"0700\"\n");
  auto r = run({"--spec", dir / "spec.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "out"))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
