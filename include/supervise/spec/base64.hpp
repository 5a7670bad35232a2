// Base64 (RFC 4648, standard alphabet) for `files[].contents` with `base64: true`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace supervise::spec {

// Blanks and line breaks are skipped; padding is optional. nullopt when not base64.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace supervise::spec
