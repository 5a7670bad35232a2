// Checkpoint destination URLs: file:///absolute/dir and s3://bucket[/prefix]. Parsing
// is pure; anything else is rejected with a message that never shows user information
// (a "user:secret@" part is redacted).
#pragma once

#include <string>
#include <string_view>

#include "supervise/result.hpp"

namespace supervise::spec {

struct StoreUrl {
  enum class Scheme { kFile, kS3 };
  Scheme scheme = Scheme::kFile;
  std::string text;    // normalised: "file:///data/ckpt", "s3://bucket/prefix"
  std::string dir;     // kFile: the absolute directory
  std::string bucket;  // kS3
  std::string prefix;  // kS3: no leading or trailing '/', may be empty
};

Result<StoreUrl> parse_store_url(std::string_view text);

// The URL with any "user:password@" replaced by "***@", for messages and logs.
std::string redact_url(std::string_view text);

}  // namespace supervise::spec
