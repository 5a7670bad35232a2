#include "azurite.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <stdexcept>

#include "faultproxy.hpp"  // python(), port_refuses()
#include "http_client.hpp"
#include "moto.hpp"        // free_port()

extern char** environ;

namespace test_support {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kClientScript = std::string(SUPERVISE_SOURCE_DIR) + "/tests/azure/azurite_client.py";

// Azurite answers (any HTTP answer: a GET of the account's root is 400 or 403).
bool answers(int port) {
  if (port_refuses(port)) return false;
  HttpClient client(port);
  return client.request("GET", "/").status > 0;
}

}  // namespace

const std::vector<std::string>& foreign_azure_env() {
  static const std::vector<std::string> names = {
      "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY",
      "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_SERVICE_ENDPOINT", "AZURE_STORAGE_AUTH_MODE",
      "REQUESTS_CA_BUNDLE", "SUPERVISE_AZURE_BLOCK_SIZE", "SUPERVISE_AZURE_MAX_CONCURRENT_REQUESTS",
      "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
  return names;
}

Azurite::Azurite() {
  const std::string program = AZURITE_BLOB_BIN;
  if (::access(program.c_str(), X_OK) != 0) {
    problem_ = "azurite-blob is not installed at " + program +
               ": run scripts/setup.sh (it installs Azurite with npm into tools/azurite)";
    return;  // each test fails saying so (AzureEnv::SetUp), not the suite's set-up: a
             // test skipped after a failed set-up would count as skipped, not failed
  }
  port_ = free_port();
  std::vector<std::string> args = {program,     "--blobHost",    "127.0.0.1", "--blobPort",
                                   std::to_string(port_), "--location", location_.path().string(),
                                   "--silent",  "--skipApiVersionCheck", "--loose", "--disableTelemetry",
                                   "--disableProductStyleUrl"};
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string log = log_dir_ / "azurite.log";
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (pid_ < 0) throw std::runtime_error("fork failed");
  int status = 0;
  bool exited = false;
  bool ready = eventually(
      [&] {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) exited = true;
        return exited || answers(port_);
      },
      60s);
  if (exited) pid_ = -1;
  if (!ready || exited) {
    problem_ = "azurite-blob did not answer on port " + std::to_string(port_) + ":\n" + read_file(log);
  }
}

Azurite::~Azurite() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool gone = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 10s);
  if (!gone) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
}

Run Azurite::client(const std::vector<std::string>& args) const {
  RunOptions o;
  o.program = python();
  o.timeout = 300s;
  o.unset_env = {"http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"};
  std::vector<std::string> all = {kClientScript, "--endpoint", endpoint()};
  all.insert(all.end(), args.begin(), args.end());
  return run(all, o);
}

void Azurite::create_container(const std::string& container) const {
  Run r = client({"create-container", container});
  ASSERT_EQ(r.exit_code, 0) << "cannot create container " << container << ": " << r.err;
}

std::vector<BlobInfo> Azurite::list(const std::string& container, const std::string& prefix) const {
  Run r = client({"list", container, "--prefix", prefix});
  if (r.exit_code != 0) throw std::runtime_error("cannot list " + container + "/" + prefix + ": " + r.err);
  std::vector<BlobInfo> out;
  for (const auto& b : json::parse(r.out))
    out.push_back({b["name"].get<std::string>(), b["size"].get<std::uint64_t>(), b["etag"].get<std::string>(),
                   b["last_modified"].get<std::string>()});
  std::sort(out.begin(), out.end(), [](const BlobInfo& a, const BlobInfo& b) { return a.name < b.name; });
  return out;
}

std::optional<std::string> Azurite::get(const std::string& container, const std::string& blob) const {
  TempDir dir;
  Run r = client({"get", container, blob, "--out", dir / "blob"});
  if (r.exit_code == 3) return std::nullopt;
  if (r.exit_code != 0) throw std::runtime_error("cannot get " + container + "/" + blob + ": " + r.err);
  return read_file(dir / "blob");
}

void Azurite::put(const std::string& container, const std::string& blob, const std::string& bytes) const {
  TempDir dir;
  write_file(dir / "blob", bytes);
  Run r = client({"put", container, blob, "--file", dir / "blob"});
  ASSERT_EQ(r.exit_code, 0) << "cannot put " << container << "/" << blob << ": " << r.err;
}

std::optional<BlockList> Azurite::block_list(const std::string& container, const std::string& blob) const {
  Run r = client({"blocklist", container, blob});
  if (r.exit_code == 3) return std::nullopt;
  if (r.exit_code != 0) throw std::runtime_error("cannot list the blocks of " + container + "/" + blob + ": " + r.err);
  json doc = json::parse(r.out);
  BlockList out;
  for (const auto& b : doc["committed"]) out.committed.push_back({b["name"].get<std::string>(), b["size"].get<std::uint64_t>()});
  for (const auto& b : doc["uncommitted"])
    out.uncommitted.push_back({b["name"].get<std::string>(), b["size"].get<std::uint64_t>()});
  return out;
}

FetchObject Azurite::fetch(const std::string& container, const std::string& prefix) const {
  // One listing and every blob fetched once, into a directory the FetchObject owns.
  auto dir = std::make_shared<TempDir>();
  std::string p = prefix.empty() ? "" : prefix + "/";
  Run r = client({"mirror", container, "--prefix", p, "--out", dir->path().string()});
  if (r.exit_code != 0) {
    std::string error = "cannot read " + container + "/" + p + ": " + r.err;
    return [error](const std::string&) -> std::optional<std::string> { throw std::runtime_error(error); };
  }
  FetchObject files = file_store_fetch(dir->path());
  return [dir, files](const std::string& key) { return files(key); };
}

std::string Azurite::account_sas(const std::string& permissions) const {
  Run r = client({"account-sas", "--permissions", permissions});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

std::string Azurite::service_sas(const std::string& container, const std::string& permissions) const {
  Run r = client({"service-sas", container, "--permissions", permissions});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

std::vector<std::string> Azurite::shared_key_env(const std::string& endpoint, const std::string& key) const {
  return {std::string("AZURE_STORAGE_ACCOUNT=") + kAzuriteAccount, "AZURE_STORAGE_KEY=" + key,
          "AZURE_STORAGE_SERVICE_ENDPOINT=" + (endpoint.empty() ? this->endpoint() : endpoint)};
}

std::vector<std::string> Azurite::connection_string_env(const std::string& endpoint, const std::string& key) const {
  return {std::string("AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=") +
          kAzuriteAccount + ";AccountKey=" + key + ";BlobEndpoint=" + (endpoint.empty() ? this->endpoint() : endpoint) +
          ";"};
}

std::vector<std::string> Azurite::sas_env(const std::string& sas, const std::string& endpoint) const {
  return {"AZURE_STORAGE_SAS_TOKEN=" + sas,
          "AZURE_STORAGE_SERVICE_ENDPOINT=" + (endpoint.empty() ? this->endpoint() : endpoint)};
}

// ---- the fault proxy -------------------------------------------------------------------

AzureFaultProxy::AzureFaultProxy(const Azurite& azurite, json rules) : port_(free_port()) {
  write_file(dir_ / "control.json", json{{"rules", rules}}.dump());
  RunOptions o;
  o.program = python();
  std::vector<std::string> args = {std::string(SUPERVISE_SOURCE_DIR) + "/tests/tools/faultproxy.py",
                                   "--port", std::to_string(port_),
                                   "--upstream", azurite.root(),
                                   "--log", dir_ / "requests.jsonl",
                                   "--control", dir_ / "control.json",
                                   "--ready-file", dir_ / "ready.json",
                                   "--idle-timeout", "300"};
  process_ = start(args, o);
  bool up = eventually(
      [&] {
        if (!process_->running()) return true;
        return fs::exists(dir_ / "ready.json") && !port_refuses(port_);
      },
      30s);
  if (!up || !process_->running()) {
    std::string err = process_->running() ? "" : process_->wait(1s).err;
    ADD_FAILURE() << "faultproxy did not come up on port " << port_ << "\n" << err;
  }
}

void AzureFaultProxy::set_rules(const json& rules) {
  write_file(dir_ / "control.tmp", json{{"rules", rules}}.dump());
  fs::rename(dir_ / "control.tmp", dir_ / "control.json");
}

std::vector<json> AzureFaultProxy::requests() const {
  std::vector<json> out;
  if (!fs::exists(dir_ / "requests.jsonl")) return out;
  for (const auto& line : lines(read_file(dir_ / "requests.jsonl"))) {
    auto doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded() && !doc.contains("refused")) out.push_back(doc);
  }
  return out;
}

// ---- the suites ------------------------------------------------------------------------

void AzureEnv::SetUpTestSuite() { azurite_ = new Azurite(); }

void AzureEnv::SetUp() {
  if (!azurite_->problem().empty()) GTEST_FAIL() << azurite_->problem();
}

void AzureEnv::TearDownTestSuite() {
  delete azurite_;
  azurite_ = nullptr;
}

std::string AzureEnv::container() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "-" + info->name();
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 50) out.resize(50);
  while (!out.empty() && out.back() == '-') out.pop_back();
  static int n = 0;
  out += "-" + std::to_string(++n);
  azurite().create_container(out);
  return out;
}

}  // namespace test_support
