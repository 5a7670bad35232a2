// Issue 8, "writes stay where declared" and resource hygiene: the supervisor's own writes
// never kill it (a file-size limit, a full disk, a closed stderr pipe), a declared file
// replaces a symbolic link instead of writing through it, and the command gets no
// descriptor but 0, 1 and 2.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;
namespace fs = std::filesystem;

// Runs supervise under a shell that first sets `limits` (e.g. "ulimit -f 8").
test_support::Run run_limited(const std::string& limits, const std::vector<std::string>& args) {
  RunOptions options;
  options.program = "/bin/sh";
  std::vector<std::string> argv = {"-c", limits + " && exec \"$0\" \"$@\"", supervise_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, options);
}

std::string big_file_spec(const std::string& path, std::size_t size) {
  return "command: [/bin/true]\nfiles:\n- path: " + path + "\n  contents: " + std::string(size, 'a') + "\n";
}

TEST(Hardening, FileSizeLimitOnADeclaredFileIs125NotADeath) {
  TempDir dir;
  write_file(dir / "spec.yaml", big_file_spec(dir / "out/big.txt", 20000));
  test_support::Run r = run_limited("ulimit -f 8", {"--spec", dir / "spec.yaml"});  // 8 KiB
  EXPECT_EQ(r.exit_code, 125) << r.err;  // not 128 + SIGXFSZ
  EXPECT_NE(r.err.find("cannot write " + dir / "out/big.txt" + ": File too large"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out/big.txt"));
  // Nothing half-written is left beside it either.
  for (const auto& e : fs::directory_iterator(dir / "out")) ADD_FAILURE() << "left behind: " << e.path();
}

TEST(Hardening, FileSizeLimitOnTheStatusIsReportedNotADeath) {
  TempDir dir;
  // The status of a command with a long argument is bigger than the 1 KiB limit.
  test_support::Run r = run_limited("ulimit -f 1", {"--status-file", dir / "status.json", "--", "/bin/sh", "-c", "exit 3",
                                      std::string(4000, 'x')});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("status not written"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "status.json"));
}

TEST(Hardening, TheCommandKeepsTheDefaultActionOfSigxfszAndSigpipe) {
  // The supervisor ignores them for its own writes; the command must not inherit that.
  test_support::Run xfsz = run({"-q", "--", "/bin/sh", "-c", "kill -XFSZ $$; exit 0"});
  EXPECT_EQ(xfsz.exit_code, 128 + SIGXFSZ) << xfsz.err;
  test_support::Run pipe = run({"-q", "--", "/bin/sh", "-c", "kill -PIPE $$; exit 0"});
  EXPECT_EQ(pipe.exit_code, 128 + SIGPIPE) << pipe.err;
}

TEST(Hardening, AClosedStderrPipeDoesNotKillTheSupervisor) {
  // stderr is a pipe whose reader is gone before the supervisor starts: every log line
  // fails with EPIPE; the run goes on and the exit code is the command's.
  TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(fds[1], STDERR_FILENO);
    std::string bin = supervise_bin(), status = dir / "status.json";
    ::execl(bin.c_str(), bin.c_str(), "-vv", "--status-file", status.c_str(), "--", "/bin/sh", "-c", "exit 7",
            static_cast<char*>(nullptr));
    ::_exit(99);
  }
  ::close(fds[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_EQ(read_json(dir / "status.json")["exit_code"], 7);
}

TEST(Hardening, ADeclaredFileReplacesASymlinkInsteadOfWritingThroughIt) {
  TempDir dir;
  write_file(dir / "victim.txt", "untouched\n");
  fs::create_symlink(dir / "victim.txt", dir / "config.txt");
  write_file(dir / "spec.yaml", "command: [/bin/true]\nfiles:\n- path: " + dir / "config.txt" +
                                    "\n  contents: declared\n");
  test_support::Run r = run({"-q", "--spec", dir / "spec.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::is_symlink(dir / "config.txt"));
  EXPECT_EQ(read_file(dir / "config.txt"), "declared");
  EXPECT_EQ(read_file(dir / "victim.txt"), "untouched\n");
}

TEST(Hardening, AFullDiskIs125AndNothingHalfWritten) {
  if (::geteuid() != 0 || find_in_path("unshare") == "unshare") GTEST_SKIP() << "needs root and unshare (CI has both)";
  TempDir dir;
  fs::create_directories(dir / "small");
  write_file(dir / "spec.yaml", big_file_spec(dir / "small/big.txt", 200000));
  // A 64 KiB tmpfs in a private mount namespace: the declared file cannot fit.
  test_support::Run r = run_limited("unshare --mount --propagation private true || exit 90; exec unshare --mount "
                      "--propagation private sh -c 'mount -t tmpfs -o size=64k tmpfs \"$1\" || exit 91; shift; "
                      "exec \"$@\"' sh " + dir / "small" + " \"$0\" \"$@\"; :",
                      {"--spec", dir / "spec.yaml"});
  ASSERT_NE(r.exit_code, 90) << "unshare --mount does not work here: " << r.err;
  ASSERT_NE(r.exit_code, 91) << "cannot mount a tmpfs here: " << r.err;
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
}

TEST(Hardening, TheCommandGetsOnlyDescriptors012) {
  // With everything that opens files at start-up in use: a spec, declared files, a
  // checkpoint (file:// store, worker threads), a status file and a termination log.
  TempDir dir;
  fs::create_directories(dir / "ckpt");
  write_file(dir / "ckpt/a.bin", "data");
  write_file(dir / "spec.yaml",
             // ls lists the shell's descriptors from a child of its own ("; true" keeps the
             // shell from exec'ing ls), so the listing itself opens none in the shell.
             "command: [/bin/sh, -c, 'ls /proc/$$/fd; true']\n"
             "files:\n- path: " + dir / "declared.txt" + "\n  contents: x\n"
             "checkpoint:\n- path: " + dir / "ckpt" + "\n  url: file://" + dir / "store" + "\n  frequency: 1h\n");
  // The supervisor itself starts with only 0, 1 and 2 (Python's subprocess closes the
  // rest): what the test runner inherited must not count. Descriptors a supervisor does
  // inherit are passed on, as tini and dumb-init do (README, "Processes and signals").
  RunOptions options;
  options.program = "/usr/bin/python3";
  test_support::Run r = run({"-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)",
                             supervise_bin(), "-q", "--spec", dir / "spec.yaml", "--status-file", dir / "status.json",
                             "--termination-log", dir / "termlog"},
                            options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> fds;
  for (const auto& line : lines(r.out)) fds.push_back(line);
  EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2"})) << r.out;
}

}  // namespace

namespace {

bool shows(const std::string& text, const std::string& secret) { return text.find(secret) != std::string::npos; }

// A loopback port with nothing listening (bound, then closed).
int closed_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 9;
  ::close(s);
  return ntohs(a.sin_port);
}

TEST(Secrets, AUserPasswordInAStoreUrlIsNeverShown) {
  TempDir dir;
  const std::vector<std::string> secrets = {"hunter2", "wJalrXUtnFEMI/K7MDENG"};
  write_file(dir / "spec.yaml", "command: [/bin/true]\ncheckpoint:\n- path: /tmp/x\n"
                                "  url: s3://AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG@bucket/p\n  frequency: 1h\n");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--status-file", dir / "s1.json", "--checkpoint", "path=/tmp/x,url=file://bob:hunter2@/tmp/store,frequency=1h",
            "--", "true"},
           {"--status-file", dir / "s2.json", "--checkpoint",
            "path=/tmp/x,url=s3://AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG@bucket/p,frequency=1h", "--", "true"},
           {"-vv", "--status-file", dir / "s3.json", "--spec", dir / "spec.yaml"}}) {
    test_support::Run r = run(args);
    EXPECT_EQ(r.exit_code, 125) << r.err;
    EXPECT_TRUE(shows(r.err, "***@")) << "the URL is not shown redacted:\n" << r.err;
    std::string status = read_file(args[args[0] == "-vv" ? 2 : 1]);
    for (const auto& s : secrets) {
      EXPECT_FALSE(shows(r.err, s)) << r.err;
      EXPECT_FALSE(shows(r.out, s)) << r.out;
      EXPECT_FALSE(shows(status, s)) << status;
    }
  }
}

TEST(Secrets, CredentialsAndEndpointPasswordNeverShowAtTraceLevel) {
  // Every request fails (nothing listens), so every error path logs at -vv.
  TempDir dir;
  write_file(dir / "data/a.txt", "a");
  const std::string secret = "TraceSecretKey/0123456789+abcdefEXAMPLE";
  const std::string token = "TraceSessionTokenEXAMPLE//Zm9vYmFy==";
  RunOptions options;
  options.env = {"AWS_ACCESS_KEY_ID=AKIDTRACE", "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_SESSION_TOKEN=" + token,
                 "AWS_ENDPOINT_URL=http://bob:hunter2@127.0.0.1:" + std::to_string(closed_port())};
  options.unset_env = {"AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"};
  test_support::Run r = run({"-vv", "--status-file", dir / "s.json", "--checkpoint",
                             "path=" + dir / "data" + ",url=s3://bucket/p,frequency=1h", "--", "true"},
                            options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(shows(r.err, "debug")) << "is -vv on?\n" << r.err;
  EXPECT_TRUE(shows(r.err, "http://***@127.0.0.1:")) << "the endpoint is not shown redacted:\n" << r.err;
  std::string status = read_file(dir / "s.json");
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"stderr", r.err}, {"stdout", r.out}, {"status", status}}) {
    for (const std::string& s : {secret, std::string("TraceSecretKey"), token, std::string("TraceSessionToken"),
                                 std::string("hunter2"), std::string("Signature="), std::string("AWS4-HMAC")})
      EXPECT_FALSE(shows(text, s)) << name << " shows " << s << ":\n" << text;
  }
}

}  // namespace

// Kubernetes and container runtimes bind-mount single files (issue 13, item 5): such a
// status file cannot be replaced by rename (EBUSY), so it is written in place.
TEST(Hardening, AStatusFileOnABindMountIsWrittenInPlace) {
  if (::geteuid() != 0 || find_in_path("unshare") == "unshare") GTEST_SKIP() << "needs root and unshare (CI has both)";
  TempDir dir;
  write_file(dir / "host.json", "");
  fs::create_directories(dir / "out");
  write_file(dir / "out/status.json", "");
  test_support::Run r = run_limited("unshare --mount --propagation private true || exit 90; exec unshare --mount "
                      "--propagation private sh -c 'mount --bind \"$1\" \"$2\" || exit 91; shift 2; "
                      "exec \"$@\"' sh " + dir / "host.json" + " " + dir / "out/status.json" + " \"$0\" \"$@\"; :",
                      {"--status-file", dir / "out/status.json", "--", "/bin/sh", "-c", "exit 3"});
  ASSERT_NE(r.exit_code, 90) << "unshare --mount does not work here: " << r.err;
  ASSERT_NE(r.exit_code, 91) << "cannot bind-mount here: " << r.err;
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.find("status not written"), std::string::npos) << r.err;
  // What the runtime reads: the file on the host side of the mount.
  auto s = read_json(dir / "host.json");
  EXPECT_EQ(s["exit_code"], 3);
  EXPECT_EQ(s["provisional"], false);
  for (const auto& e : fs::directory_iterator(dir / "out"))
    if (e.path().filename() != "status.json") ADD_FAILURE() << "left behind: " << e.path();
}
