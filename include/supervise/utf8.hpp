// UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), for spec files and for store keys (S3 keys are UTF-8).
#pragma once

#include <string_view>

namespace supervise {

// The offset of the first byte that is not part of well-formed UTF-8, or npos.
std::size_t invalid_utf8_at(std::string_view text);

inline bool is_utf8(std::string_view text) { return invalid_utf8_at(text) == std::string_view::npos; }

}  // namespace supervise
