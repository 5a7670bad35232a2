// CRC-32C (Castagnoli), the checksum of the manifest (and S3's x-amz-checksum-crc32c):
// the SSE4.2 instruction where the CPU has it, a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace supervise::checkpoint {

// Continues `crc` (0 to start) over `size` bytes.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size);

// "1a2b3c4d": 8 lowercase hex digits.
std::string crc32c_hex(std::uint32_t crc);

}  // namespace supervise::checkpoint
