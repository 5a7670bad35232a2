// Azure Blob Storage configuration the way the Azure CLI reads it, in this order:
// AZURE_STORAGE_CONNECTION_STRING (AccountName, AccountKey, SharedAccessSignature,
// BlobEndpoint, DefaultEndpointsProtocol, EndpointSuffix; keys in any case;
// UseDevelopmentStorage=true for Azurite's well-known account), else AZURE_STORAGE_ACCOUNT
// + AZURE_STORAGE_KEY (SharedKey), else AZURE_STORAGE_SAS_TOKEN (an account or service
// SAS, with or without its leading '?'). The blob endpoint is
// https://<account>.blob.core.windows.net, the connection string's BlobEndpoint (or its
// protocol and EndpointSuffix), and AZURE_STORAGE_SERVICE_ENDPOINT overrides it.
// SUPERVISE_AZURE_BLOCK_SIZE (a file up to it goes up with one Put Blob, a larger one in
// blocks of it) and SUPERVISE_AZURE_MAX_CONCURRENT_REQUESTS (blocks and small files in
// flight at once); REQUESTS_CA_BUNDLE (as the Azure CLI reads it) for the certificates to trust.
// Pure: the environment is passed in. No message ever holds a key or a token.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "supervise/result.hpp"
#include "supervise/s3/config.hpp"

namespace supervise::azure {

inline constexpr std::uint64_t kDefaultBlockSize = 8ull << 20;
inline constexpr std::uint64_t kMaxBlockSize = 4000ull << 20;  // Put Block's limit (2019-12-12 on)
inline constexpr unsigned kDefaultConcurrentRequests = 8;

struct Config {
  std::string account;
  std::string key;  // the account key, decoded from base64 (SharedKey); empty with a SAS
  std::string sas;  // the SAS query without its '?' ("sv=...&sig=..."); empty with a key
  std::string
      endpoint;  // "https://acct.blob.core.windows.net", "http://127.0.0.1:10000/devstoreaccount1"
  std::string source;  // where the credentials came from (a variable's name): for logs
  std::string ca_bundle;
  std::uint64_t block_size = kDefaultBlockSize;
  unsigned max_concurrent_requests = kDefaultConcurrentRequests;
};

// The connection string's settings by lowercase key ("accountname"); values as given.
// Malformed parts (no '=') are an error naming the part's position, not its text.
Result<std::map<std::string, std::string>> parse_connection_string(const std::string& text);

// Everything needed to talk to the blob service of `account` (the URL's), or an error
// saying what is missing or wrong and which variables were looked at.
Result<Config> resolve_config(const std::string& account, const s3::GetEnv& getenv);

// Azurite's well-known development account and key (public, documented by Microsoft).
inline constexpr const char* kDevelopmentAccount = "devstoreaccount1";
inline constexpr const char* kDevelopmentKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

}  // namespace supervise::azure
