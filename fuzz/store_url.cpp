// Fuzz target: checkpoint store URLs (spec/store_url.hpp). parse_store_url never throws;
// a URL it accepts is file:///absolute or one of the stores' forms with a bucket
// (container) of its scheme's length (gs: 222 with dots), and its normalised text parses
// to the same URL; redact_url is idempotent. The secret check: the input put as
// the password of "s3://AKIDEXAMPLE:<input>@bucket/prefix" never shows in redact_url's
// answer or in parse_store_url's message: both show "s3://***@bucket/prefix".
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "supervise/spec/store_url.hpp"

namespace spec = supervise::spec;

namespace {

bool same(const spec::StoreUrl& a, const spec::StoreUrl& b) {
  return a.scheme == b.scheme && a.text == b.text && a.dir == b.dir && a.endpoint == b.endpoint &&
         a.account == b.account && a.bucket == b.bucket && a.prefix == b.prefix;
}

// The longest bucket (container) name each scheme allows: GCS takes 222 characters in
// dot-separated names of up to 63 each; the others 63.
std::size_t longest_bucket(const spec::StoreUrl& url) {
  const bool dotted = url.bucket.find('.') != std::string::npos;
  return url.scheme == spec::StoreUrl::Scheme::kGs && dotted ? 222 : 63;
}

void check_url(std::string_view text) {
  auto url = spec::parse_store_url(text);
  if (!url) {
    fuzz::check_message(url.error());
    return;
  }
  if (url->scheme == spec::StoreUrl::Scheme::kFile) {
    if (url->dir.empty() || url->dir.front() != '/') fuzz::fail("a file:// directory that is not absolute", url->dir);
    if (url->text != "file://" + url->dir) fuzz::fail("file:// text and directory disagree", url->text);
  } else {
    if (url->bucket.size() < 3 || url->bucket.size() > longest_bucket(*url))
      fuzz::fail("a bucket name of a bad length", url->text);
    if (!url->prefix.empty() && (url->prefix.front() == '/' || url->prefix.back() == '/'))
      fuzz::fail("a prefix with a leading or trailing '/'", url->prefix);
  }
  auto again = spec::parse_store_url(url->text);
  if (!again || !same(*url, *again)) fuzz::fail("a normalised URL does not parse to itself", url->text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text = fuzz::text_of(data, size);
  check_url(text);
  std::string redacted = spec::redact_url(text);
  if (spec::redact_url(redacted) != redacted) fuzz::fail("redact_url is not idempotent", redacted);

  // The input as a password (an AWS secret key may hold '/' and '+').
  if (text.find('@') == std::string::npos) {
    const std::string url = "s3://AKIDEXAMPLE:" + text + "@bucket/prefix";
    const std::string shown = spec::redact_url(url);
    if (shown != "s3://***@bucket/prefix") fuzz::fail("redact_url shows user information", shown);
    auto parsed = spec::parse_store_url(url);
    if (parsed) fuzz::fail("a URL with user information was accepted", url);
    if (parsed.error().rfind("\"s3://***@bucket/prefix\" ", 0) != 0)
      fuzz::fail("parse_store_url's message shows user information", parsed.error());
  }
  return 0;
}
