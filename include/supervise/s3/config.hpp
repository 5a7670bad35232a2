// S3 configuration the way the AWS tools read it: credentials from AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE or "default");
// region from AWS_REGION / AWS_DEFAULT_REGION (us-east-1); endpoint from
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL with path-style addressing, AWS itself with
// virtual-hosted style; AWS_CA_BUNDLE for the certificates to trust. Pure: the environment and the file's text are passed in.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "supervise/result.hpp"

namespace supervise::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty without one
  std::string source;         // "environment" or "/root/.aws/credentials [profile]": for logs
};

struct Config {
  Credentials credentials;
  std::string region = "us-east-1";
  std::string endpoint;  // "http://127.0.0.1:9000"; empty for AWS itself
  bool path_style = false;
  std::string ca_bundle;  // AWS_CA_BUNDLE: certificates to trust instead of the system's
};

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;
using ReadFile = std::function<std::optional<std::string>(const std::string& path)>;

// Everything needed to talk to S3, or an error saying what is missing and where it was
// looked for (never a secret).
Result<Config> resolve_config(const GetEnv& getenv, const ReadFile& read_file);

// Parses an INI credentials file and returns the keys of `profile` (nullopt if absent).
std::optional<Credentials> parse_credentials_file(const std::string& text, const std::string& profile);

}  // namespace supervise::s3
