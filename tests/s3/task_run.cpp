#include "task_run.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "http_client.hpp"

namespace test_support {

using json = nlohmann::json;

std::string pseudo_random(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  std::size_t i = 0;
  while (i < size) {
    x += 0x9E3779B97F4A7C15ull;  // splitmix64
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int b = 0; b < 8 && i < size; ++b, ++i) out[i] = static_cast<char>(z >> (8 * b));
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- the task ------------------------------------------------------------------------

std::vector<std::string> client_env(const MotoServer& moto, const std::string& endpoint,
                                    const std::string& token) {
  std::vector<std::string> env;
  for (auto& e : moto.client_env()) {
    if (e.rfind("AWS_ENDPOINT_URL=", 0) == 0) e = "AWS_ENDPOINT_URL=" + endpoint;
    if (e.rfind("AWS_SESSION_TOKEN=", 0) == 0) e = "AWS_SESSION_TOKEN=" + token;
    env.push_back(e);
  }
  return env;
}

namespace {

RunOptions task_run_options(const std::vector<std::string>& env,
                            std::chrono::milliseconds timeout) {
  RunOptions options;
  options.env = env;
  options.unset_env = {"AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
                       "AWS_CONFIG_FILE"};
  options.timeout = timeout;
  return options;
}

json read_status(const std::filesystem::path& dir) {
  auto path = dir / "status.json";
  return std::filesystem::exists(path) ? read_json(path) : json();
}

}  // namespace

std::vector<std::string> task_args(const TempDir& dir, const std::string& bucket,
                                   const TaskOptions& options) {
  std::vector<std::string> args = {
      "--status-file",
      dir / "status.json",
      "--exit-action",
      "RESCHEDULE=3",
      "--log-level",
      "debug",
      "--checkpoint",
      "path=" + (dir / "data") + ",url=" + (options.url.empty() ? "s3://" + bucket + "/run" : options.url) +
          ",frequency=" + options.frequency};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  args.insert(args.end(), {"--", "/bin/sh", "-c", options.command});
  return args;
}

TaskRun run_task(const TempDir& dir, const std::vector<std::string>& env, const std::string& bucket,
                 const TaskOptions& options) {
  TaskRun t;
  t.run = run(task_args(dir, bucket, options), task_run_options(env, options.timeout));
  t.status = read_status(dir.path());
  return t;
}

TaskRun run_task(const TempDir& dir, const std::vector<std::string>& env, const std::string& bucket,
                 const std::string& command, const std::string& frequency,
                 std::chrono::milliseconds timeout) {
  return run_task(dir, env, bucket,
                  TaskOptions{.command = command, .frequency = frequency, .timeout = timeout});
}

BackgroundTask::BackgroundTask(const TempDir& dir, const std::vector<std::string>& env,
                               const std::string& bucket, const TaskOptions& options)
    : dir_(dir.path()) {
  // /bin/sh sends supervise's stderr to a file of the test's and execs it: same pid.
  RunOptions o = task_run_options(env, options.timeout);
  o.program = "/bin/sh";
  std::vector<std::string> args = {"-c", "exec \"$0\" \"$@\" 2>>'" + (dir / "supervise.log") + "'",
                                   supervise_bin()};
  for (auto& a : task_args(dir, bucket, options)) args.push_back(a);
  process_ = start(args, o);
}

std::string BackgroundTask::log() const {
  auto path = dir_ / "supervise.log";
  return std::filesystem::exists(path) ? read_file(path) : "";
}

TaskRun BackgroundTask::wait(std::chrono::milliseconds timeout) {
  TaskRun t;
  t.run = process_->wait(timeout);
  t.run.err = log() + t.run.err;
  t.status = read_status(dir_);
  return t;
}

void expect_task_outcome_unchanged(const TaskRun& t) {
  EXPECT_FALSE(t.run.timed_out);
  EXPECT_EQ(t.run.exit_code, 3) << t.run.err;
  ASSERT_TRUE(t.status.is_object()) << "no status file\n" << t.run.err;
  EXPECT_EQ(t.status["exit_code"], 3);
  EXPECT_EQ(t.status["action"], "RESCHEDULE");
  EXPECT_EQ(t.status["matched_rule"], "RESCHEDULE: 3");
  EXPECT_TRUE(t.status["signal"].is_null());
  EXPECT_TRUE(t.status["error"].is_null());
}

json checkpoint_status(const TaskRun& t) {
  if (t.status.is_object() && t.status.contains("checkpoints") &&
      t.status["checkpoints"].is_array() && !t.status["checkpoints"].empty())
    return t.status["checkpoints"][0];
  ADD_FAILURE() << "no checkpoint in the status: " << t.status.dump();
  return json{{"rounds", -1},
              {"failed_rounds", -1},
              {"final", json::object()},
              {"open_uploads", json::array()}};
}

// ---- the fault proxy's log -----------------------------------------------------------

std::vector<json> where(const std::vector<json>& requests,
                        const std::function<bool(const json&)>& pred) {
  std::vector<json> out;
  for (const auto& r : requests)
    if (pred(r)) out.push_back(r);
  return out;
}

bool is_part(const json& r) {
  return r["method"] == "PUT" && contains(r["query"].get<std::string>(), "partNumber=");
}
bool is_create(const json& r) {
  return r["method"] == "POST" && r["query"] == "uploads=";
}
bool is_complete(const json& r) {
  return r["method"] == "POST" && contains(r["query"].get<std::string>(), "uploadId=");
}
bool is_abort(const json& r) {
  return r["method"] == "DELETE" && contains(r["query"].get<std::string>(), "uploadId=");
}
bool injected(const json& r) {
  return r["action"] != "forward";
}

std::string describe(const json& request) {
  return request.value("method", "?") + " " + request.value("target", "?") + " (" +
         request.value("action", "?") + ")";
}

std::string summary(const std::vector<json>& requests) {
  std::string out;
  for (const auto& r : requests)
    out += "  " + describe(r) + " -> " + (r.contains("status") ? r["status"].dump() : "-") + "\n";
  return out;
}

std::string query_param(const json& request, const std::string& name) {
  std::string q = "&" + request.value("query", std::string()) + "&";
  auto at = q.find("&" + name + "=");
  if (at == std::string::npos) return "";
  at += name.size() + 2;
  return q.substr(at, q.find('&', at) - at);
}

// ---- moto, read directly -------------------------------------------------------------

namespace {

// `text` as a URL path or query value: unreserved bytes (and '/' in a path) as they
// are, every other byte %XX.
std::string uri_encode(const std::string& text, bool path) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (path && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string xml_unescape(std::string text) {
  static const std::pair<const char*, const char*> entities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += std::strlen(to))
      text.replace(at, std::strlen(from), to);
  }
  return text;
}

// The text of each <tag>...</tag> in `xml`, in order (no nesting of the same tag).
std::vector<std::string> elements(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (std::size_t at = 0; (at = xml.find(open, at)) != std::string::npos;) {
    at += open.size();
    std::size_t end = xml.find(close, at);
    if (end == std::string::npos) break;
    out.push_back(xml_unescape(xml.substr(at, end - at)));
    at = end + close.size();
  }
  return out;
}

HttpClient::Answer moto_request(const MotoServer& moto, const std::string& target) {
  HttpClient::Answer a =
      HttpClient(moto.port()).with_header(moto_authorization()).request("GET", target);
  if (a.status < 0) throw std::runtime_error("GET " + target + ": no answer from moto: " + a.error);
  return a;
}

}  // namespace

std::string moto_authorization() {
  return "Authorization: AWS4-HMAC-SHA256 "
         "Credential=AKIDMOTOTEST/20260101/us-east-1/s3/aws4_request, "
         "SignedHeaders=host, "
         "Signature=0000000000000000000000000000000000000000000000000000000000000000";
}

std::ostream& operator<<(std::ostream& out, const MotoUpload& u) {
  return out << u.key << " " << u.upload_id;
}

std::vector<MotoUpload> open_uploads(const MotoServer& moto, const std::string& bucket,
                                     const std::string& prefix) {
  std::vector<MotoUpload> out;
  std::string target = "/" + bucket + "?uploads=";
  if (!prefix.empty()) target += "&prefix=" + uri_encode(prefix, false);
  HttpClient::Answer a;
  try {
    a = moto_request(moto, target);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    return out;
  }
  if (a.status != 200) {
    ADD_FAILURE() << "ListMultipartUploads said " << a.status << ": " << a.body;
    return out;
  }
  EXPECT_FALSE(contains(a.body, "<IsTruncated>true</IsTruncated>"))
      << "more uploads than one listing holds";
  for (const auto& upload : elements(a.body, "Upload")) {
    auto key = elements(upload, "Key"), id = elements(upload, "UploadId");
    out.push_back({key.empty() ? "" : key[0], id.empty() ? "" : id[0]});
  }
  return out;
}

std::optional<std::string> moto_object(const MotoServer& moto, const std::string& bucket,
                                       const std::string& key) {
  HttpClient::Answer a = moto_request(moto, "/" + bucket + "/" + uri_encode(key, true));
  if (a.status == 200) return std::move(a.body);
  if (a.status == 404 && contains(a.body, "NoSuchKey")) return std::nullopt;
  throw std::runtime_error("GET s3://" + bucket + "/" + key + ": " + std::to_string(a.status) +
                           " " + a.body);
}

std::vector<std::string> moto_keys(const MotoServer& moto, const std::string& bucket,
                                   const std::string& prefix) {
  std::vector<std::string> out;
  std::string token;
  for (;;) {
    std::string target = "/" + bucket + "?list-type=2&prefix=" + uri_encode(prefix, false);
    if (!token.empty()) target += "&continuation-token=" + uri_encode(token, false);
    HttpClient::Answer a = moto_request(moto, target);
    if (a.status != 200)
      throw std::runtime_error("ListObjectsV2 said " + std::to_string(a.status) + ": " + a.body);
    for (const auto& contents : elements(a.body, "Contents")) {
      auto key = elements(contents, "Key");
      if (!key.empty()) out.push_back(key[0]);
    }
    auto next = elements(a.body, "NextContinuationToken");
    if (!contains(a.body, "<IsTruncated>true</IsTruncated>") || next.empty()) break;
    token = next[0];
  }
  std::sort(out.begin(), out.end());
  return out;
}

FetchObject moto_fetch(const MotoServer& moto, const std::string& bucket,
                       const std::string& prefix) {
  return [&moto, bucket, prefix](const std::string& key) {
    return moto_object(moto, bucket, prefix + "/" + key);
  };
}

// ---- the suites ----------------------------------------------------------------------

void S3Env::SetUpTestSuite() {
  moto_ = new MotoServer();
}

void S3Env::TearDownTestSuite() {
  delete moto_;
  moto_ = nullptr;
}

std::string S3Env::bucket() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::string b = "t-";
  for (char c : name)
    b += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '-';
  b = b.substr(0, 60);
  if (!made_.count(b)) {
    moto().make_bucket(b);
    made_.insert(b);
  }
  return b;
}

}  // namespace test_support
