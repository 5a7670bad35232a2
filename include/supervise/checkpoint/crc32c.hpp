// CRC-32C (Castagnoli), the checksum of the manifest (and S3's x-amz-checksum-crc32c):
// the SSE4.2 instruction where the CPU has it, a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace supervise::checkpoint {

// Continues `crc` (0 to start) over `size` bytes.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size);

// The CRC of A followed by B, from crc(A), crc(B) and B's length: the checksum of a
// file whose parts were read (and summed) in parallel.
std::uint32_t crc32c_combine(std::uint32_t first, std::uint32_t second, std::uint64_t second_size);

// The CRC of `size` bytes summed in consecutive pieces of `piece` bytes (the last one
// shorter), from the pieces' CRCs in order: a file sent or read in parts.
std::uint32_t crc32c_of_pieces(const std::vector<std::uint32_t>& crcs, std::uint64_t piece, std::uint64_t size);

// S3's form of a CRC-32C (x-amz-checksum-crc32c): the 4 bytes, big-endian, in base64.
std::string crc32c_base64(std::uint32_t crc);

// "1a2b3c4d": 8 lowercase hex digits.
std::string crc32c_hex(std::uint32_t crc);

}  // namespace supervise::checkpoint
