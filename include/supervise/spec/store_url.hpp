// Checkpoint destination URLs, in OSMO's forms: file:///absolute/dir, s3://bucket[/prefix],
// gs://bucket[/prefix], azure://account/container[/prefix], tos://endpoint/bucket[/prefix]
// and swift://endpoint/account/bucket[/prefix]. Parsing is pure; anything else is rejected with a message that never shows user information
// (a "user:secret@" part is redacted).
#pragma once

#include <string>
#include <string_view>

#include "supervise/result.hpp"

namespace supervise::spec {

struct StoreUrl {
  enum class Scheme { kFile, kS3, kGs, kAzure, kTos, kSwift };
  Scheme scheme = Scheme::kFile;
  std::string text;      // normalised: "file:///data/ckpt", "s3://bucket/prefix"
  std::string dir;       // kFile: the absolute directory
  std::string endpoint;  // kTos, kSwift: the server's host[:port], as the URL gives it
  std::string account;   // kAzure: the storage account; kSwift: the account (AUTH_...)
  std::string bucket;    // the bucket; kAzure: the container
  std::string prefix;    // not kFile: no leading or trailing '/', may be empty

  // The URL of the bucket (container), no prefix: "s3://bucket", "azure://acct/cont";
  // keys below it are one key space. Empty for kFile.
  std::string root() const;
  // "s3", "gs", "azure", "tos", "swift", "file".
  std::string_view scheme_name() const;
};

Result<StoreUrl> parse_store_url(std::string_view text);

// The URL with any "user:password@" replaced by "***@", for messages and logs.
std::string redact_url(std::string_view text);

}  // namespace supervise::spec
