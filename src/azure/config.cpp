#include "supervise/azure/config.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "supervise/diagnostics.hpp"
#include "supervise/spec/base64.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::azure {
namespace {

constexpr const char* kConnectionString = "AZURE_STORAGE_CONNECTION_STRING";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::optional<std::string> non_empty(const s3::GetEnv& getenv, const std::string& name) {
  auto v = getenv(name);
  if (v && !trim(*v).empty()) return trim(*v);
  return std::nullopt;
}

std::optional<std::string> setting(const std::map<std::string, std::string>& settings,
                                   const std::string& key) {
  auto it = settings.find(key);
  if (it == settings.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// The account key as bytes; `what` names where it came from (never the value).
Result<std::string> decode_key(const std::string& text, const std::string& what) {
  auto key = spec::base64_decode(text);
  if (!key || key->empty()) return Error{what + " is not a base64 account key"};
  return *key;
}

// A SAS token as a query without its '?'.
Result<std::string> sas_query(const std::string& text, const std::string& what) {
  std::string sas = text;
  while (!sas.empty() && sas.front() == '?') sas.erase(0, 1);
  if (sas.find("sig=") == std::string::npos || sas.find_first_of(" \t\r\n#") != std::string::npos)
    return Error{what + " is not a SAS token (a query with a sig parameter)"};
  return sas;
}

Result<std::string> check_endpoint(std::string endpoint, const std::string& what) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0)
    return Error{what + " " + quote(spec::redact_url(endpoint)) +
                 " is not an http:// or https:// URL"};
  if (endpoint.find('?') != std::string::npos)
    return Error{what + " has a query: give a SAS token in its own variable"};
  return endpoint;
}

Result<Config> from_connection_string(const std::string& account, const std::string& text) {
  auto parsed = parse_connection_string(text);
  if (!parsed) return Error{parsed.error()};
  const auto& s = *parsed;
  Config config;
  config.source = kConnectionString;
  std::string name = setting(s, "accountname").value_or("");
  std::string key_text = setting(s, "accountkey").value_or("");
  std::string endpoint = setting(s, "blobendpoint").value_or("");
  if (lower(setting(s, "usedevelopmentstorage").value_or("")) == "true") {
    if (name.empty()) name = kDevelopmentAccount;
    if (key_text.empty() && !setting(s, "sharedaccesssignature")) key_text = kDevelopmentKey;
    if (endpoint.empty()) endpoint = "http://127.0.0.1:10000/" + name;
  }
  if (!name.empty() && name != account)
    return Error{std::string(kConnectionString) + " is for the account " + quote(name) +
                 ", not the URL's " + quote(account)};
  config.account = account;
  if (!key_text.empty()) {
    auto key = decode_key(key_text, std::string("the AccountKey of ") + kConnectionString);
    if (!key) return Error{key.error()};
    config.key = *key;
  } else if (auto sas = setting(s, "sharedaccesssignature")) {
    auto query = sas_query(*sas, std::string("the SharedAccessSignature of ") + kConnectionString);
    if (!query) return Error{query.error()};
    config.sas = *query;
  } else {
    return Error{std::string(kConnectionString) +
                 " has neither AccountKey nor SharedAccessSignature"};
  }
  if (endpoint.empty()) {
    std::string protocol = lower(setting(s, "defaultendpointsprotocol").value_or("https"));
    if (protocol != "http" && protocol != "https")
      return Error{std::string("the DefaultEndpointsProtocol of ") + kConnectionString + " " +
                   quote(protocol) + " is not http or https"};
    endpoint = protocol + "://" + account + ".blob." +
               setting(s, "endpointsuffix").value_or("core.windows.net");
  }
  auto checked = check_endpoint(endpoint, std::string("the BlobEndpoint of ") + kConnectionString);
  if (!checked) return Error{checked.error()};
  config.endpoint = *checked;
  return config;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_connection_string(const std::string& text) {
  std::map<std::string, std::string> settings;
  std::size_t start = 0, index = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    std::string part = trim(text.substr(start, end - start));
    start = end + 1;
    ++index;
    if (part.empty()) continue;       // "a=b;" and ";;" are fine
    std::size_t eq = part.find('=');  // the value may hold '=' (base64 padding, a SAS)
    if (eq == std::string::npos || eq == 0)
      return Error{std::string(kConnectionString) + ": part " + std::to_string(index) +
                   " is not a Key=value setting"};
    settings[lower(trim(part.substr(0, eq)))] = trim(part.substr(eq + 1));
  }
  if (settings.empty()) return Error{std::string(kConnectionString) + " has no settings"};
  return settings;
}

Result<Config> resolve_config(const std::string& account, const s3::GetEnv& getenv) {
  Config config;
  auto env_account = non_empty(getenv, "AZURE_STORAGE_ACCOUNT");
  auto env_key = non_empty(getenv, "AZURE_STORAGE_KEY");
  auto env_sas = non_empty(getenv, "AZURE_STORAGE_SAS_TOKEN");
  auto mismatch = [&](const std::string& name) {
    return Error{"AZURE_STORAGE_ACCOUNT is " + quote(name) + ", not the URL's account " +
                 quote(account)};
  };
  if (auto text = non_empty(getenv, kConnectionString)) {
    auto resolved = from_connection_string(account, *text);
    if (!resolved) return Error{resolved.error()};
    config = *resolved;
  } else if (env_key) {
    if (!env_account)
      return Error{"AZURE_STORAGE_KEY is set but AZURE_STORAGE_ACCOUNT is not: set both"};
    if (*env_account != account) return mismatch(*env_account);
    auto key = decode_key(*env_key, "AZURE_STORAGE_KEY");
    if (!key) return Error{key.error()};
    config.account = account;
    config.key = *key;
    config.source = "AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY";
  } else if (env_sas) {
    if (env_account && *env_account != account) return mismatch(*env_account);
    auto sas = sas_query(*env_sas, "AZURE_STORAGE_SAS_TOKEN");
    if (!sas) return Error{sas.error()};
    config.account = account;
    config.sas = *sas;
    config.source = "AZURE_STORAGE_SAS_TOKEN";
  } else {
    return Error{
        "no Azure credentials for the account " + quote(account) + ": none of " +
        kConnectionString +
        ", AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_TOKEN is set"};
  }
  if (config.endpoint.empty()) config.endpoint = "https://" + account + ".blob.core.windows.net";
  if (auto e = non_empty(getenv, "AZURE_STORAGE_SERVICE_ENDPOINT")) {
    auto checked = check_endpoint(*e, "AZURE_STORAGE_SERVICE_ENDPOINT");
    if (!checked) return Error{checked.error()};
    config.endpoint = *checked;
  }
  if (auto ca = non_empty(getenv, "REQUESTS_CA_BUNDLE")) config.ca_bundle = *ca;
  if (auto t = non_empty(getenv, "SUPERVISE_AZURE_BLOCK_SIZE")) {
    // The floor is ours (Azure takes blocks of any size): more, smaller blocks only cost
    // requests, and one floor for every store keeps the memory rule the same.
    auto size = s3::parse_size("SUPERVISE_AZURE_BLOCK_SIZE", *t,
                               {s3::kMinPartSize, kMaxBlockSize, "5MiB, the smallest block supervise sends",
                                "4000MiB, Azure's largest block"});
    if (!size) return Error{size.error()};
    config.block_size = *size;
  }
  if (auto t = non_empty(getenv, "SUPERVISE_AZURE_MAX_CONCURRENT_REQUESTS")) {
    char* end = nullptr;
    errno = 0;
    unsigned long n = std::strtoul(t->c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || (*t)[0] == '-' || n < 1 || n > s3::kMaxConcurrentRequests)
      return Error{"SUPERVISE_AZURE_MAX_CONCURRENT_REQUESTS " + quote(*t) +
                   " is not a number from 1 to " + std::to_string(s3::kMaxConcurrentRequests)};
    config.max_concurrent_requests = static_cast<unsigned>(n);
  }
  return config;
}

}  // namespace supervise::azure
