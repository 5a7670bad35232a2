#include "harness.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <ctime>
#include <regex>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace test_support {

std::string supervise_bin() {
  return SUPERVISE_BIN;
}
std::string testdata(const std::string& name) {
  return std::string(SUPERVISE_TESTDATA) + "/" + name;
}

double parse_timestamp(const std::string& text) {
  static const std::regex format(R"(^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$)");
  std::smatch m;
  if (!std::regex_match(text, m, format)) throw std::runtime_error("not a timestamp: " + text);
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  return static_cast<double>(::timegm(&tm)) + std::stoi(m[7]) / 1000.0;
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string candidate = p.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

namespace {

std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The archive of status documents read by tests (see harness.hpp). A status is told by
// its content: a JSON object with schema_version and action. The status file is
// pretty-printed (it holds newlines), the termination log is one line.
void archive_if_status(const std::string& text) {
  static const char* const dir = std::getenv("SUPERVISE_STATUS_ARCHIVE");
  if (dir == nullptr || *dir == '\0') return;
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') return;
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("schema_version") || !doc.contains("action")) return;
  static std::atomic<int> counter{0};
  std::string test = "no-test";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info())
    test = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : test)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  bool compact = text.find('\n') == std::string::npos;
  std::string name = test + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
                     (compact ? ".compact.json" : ".status.json");
  std::filesystem::path target = std::filesystem::path(dir) / name;
  std::filesystem::path temporary = std::filesystem::path(dir) / ("." + name + ".tmp");
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(temporary, std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
  }
  std::filesystem::rename(temporary, target);
}

}  // namespace

std::string read_file(const std::filesystem::path& path) {
  std::string text = read_whole_file(path);
  archive_if_status(text);
  return text;
}

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

nlohmann::json read_json(const std::filesystem::path& path) {
  return nlohmann::json::parse(read_file(path));
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "supervise-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t nl = text.find('\n', begin);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(begin, nl - begin));
    begin = nl + 1;
  }
  return out;
}

std::unique_ptr<Started> start(const std::vector<std::string>& args, const RunOptions& options) {
  auto capture = std::make_unique<TempDir>();
  std::string out_path = *capture / "stdout", err_path = *capture / "stderr";
  std::string program = options.program.empty() ? supervise_bin() : options.program;

  // Everything the child needs is prepared before fork.
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    bool drop = false;
    for (const auto& u : options.unset_env) drop = drop || u == name;
    for (const auto& add : options.env) drop = drop || add.substr(0, add.find('=')) == name;
    if (!drop) env.push_back(entry);
  }
  env.insert(env.end(), options.env.begin(), options.env.end());
  std::vector<char*> envp, argv;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> all_args = {program};
  all_args.insert(all_args.end(), args.begin(), args.end());
  for (auto& a : all_args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0)
    throw std::runtime_error("cannot open capture files");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls from here on. The program starts with default signal
    // dispositions and an empty mask, as from an interactive shell, whatever the test
    // runner inherited (a background job ignores SIGINT and SIGQUIT).
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
    sigset_t empty;
    ::sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    struct sigaction ignore_action {};
    ignore_action.sa_handler = SIG_IGN;
    for (int sig : options.ignored_signals) ::sigaction(sig, &ignore_action, nullptr);
    sigset_t blocked;
    ::sigemptyset(&blocked);
    for (int sig : options.blocked_signals) ::sigaddset(&blocked, sig);
    ::sigprocmask(SIG_SETMASK, &blocked, nullptr);
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (options.umask) ::umask(*options.umask);
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(120);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(121);
  }
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
  return std::make_unique<Started>(pid, std::move(capture));
}

Started::Started(pid_t pid, std::unique_ptr<TempDir> capture)
    : pid_(pid), capture_(std::move(capture)), started_(std::chrono::steady_clock::now()) {}

Started::~Started() {
  if (status_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

bool Started::running() {
  if (status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    elapsed_ = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started_);
    return false;
  }
  if (r < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
  return true;
}

void Started::signal(int sig) {
  if (status_) throw std::runtime_error("signal to a process already reaped");
  ::kill(pid_, sig);
}

Run Started::wait(std::chrono::milliseconds timeout) {
  Run result;
  auto until = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (!result.timed_out && std::chrono::steady_clock::now() >= until) {
      result.timed_out = true;
      ::kill(pid_, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  int status = *status_;
  result.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  result.elapsed = elapsed_;
  result.out = read_whole_file(capture_->path() / "stdout");
  result.err = read_whole_file(capture_->path() / "stderr");
  return result;
}

Run run(const std::vector<std::string>& args, const RunOptions& options) {
  return start(args, options)->wait(options.timeout);
}

}  // namespace test_support
