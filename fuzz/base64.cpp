// Fuzz target: base64 (spec/base64.hpp), for files[].contents with base64: true.
// base64_decode never throws; what it decodes, encoded again, decodes to the same bytes;
// and any bytes, encoded, decode to themselves.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "supervise/spec/base64.hpp"

namespace spec = supervise::spec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text = fuzz::text_of(data, size);
  if (auto decoded = spec::base64_decode(text)) {
    auto again = spec::base64_decode(spec::base64_encode(*decoded));
    if (!again || *again != *decoded) fuzz::fail("decode(encode(decode(x))) != decode(x)");
  }
  auto back = spec::base64_decode(spec::base64_encode(text));
  if (!back || *back != text) fuzz::fail("decode(encode(x)) != x");
  return 0;
}
