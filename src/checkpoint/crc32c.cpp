#include "supervise/checkpoint/crc32c.hpp"

#include <algorithm>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <array>
#include <cstdio>
#include <cstring>

namespace supervise::checkpoint {
namespace {

constexpr std::uint32_t kPolynomial = 0x82f63b78;  // reflected Castagnoli

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t i = 0; i < 256; ++i)
    for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  return t;
}
constexpr auto kTables = make_tables();

// Slicing-by-8: eight table lookups per 8 bytes.
std::uint32_t crc_software(std::uint32_t crc, const unsigned char* p, std::size_t n) {
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    word ^= crc;
    crc = kTables[7][word & 0xff] ^ kTables[6][(word >> 8) & 0xff] ^ kTables[5][(word >> 16) & 0xff] ^
          kTables[4][(word >> 24) & 0xff] ^ kTables[3][(word >> 32) & 0xff] ^
          kTables[2][(word >> 40) & 0xff] ^ kTables[1][(word >> 48) & 0xff] ^ kTables[0][word >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
// CPUID leaf 1, ECX bit 20, asked the first time a CRC is computed. Not
// __builtin_cpu_supports: that links libgcc's CPU detection, which runs at every start
// of the program (a measurable part of `supervise -- /bin/true`).
bool cpu_has_sse42() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & bit_SSE4_2) != 0;
}

__attribute__((target("sse4.2"))) std::uint32_t crc_sse42(std::uint32_t crc, const unsigned char* p,
                                                           std::size_t n) {
  std::uint64_t c = crc;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
#endif

}  // namespace

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) {
  auto p = static_cast<const unsigned char*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  static const bool has_sse42 = cpu_has_sse42();
  crc = has_sse42 ? crc_sse42(crc, p, size) : crc_software(crc, p, size);
#else
  crc = crc_software(crc, p, size);
#endif
  return ~crc;
}

std::string crc32c_hex(std::uint32_t crc) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return buf;
}

}  // namespace supervise::checkpoint

namespace supervise::checkpoint {
namespace {

// GF(2) matrices of 32 columns: the operator "append one zero bit" and its powers
// (zlib's crc32_combine, with CRC-32C's reflected polynomial).
std::uint32_t times(const std::uint32_t* matrix, std::uint32_t vector) {
  std::uint32_t sum = 0;
  for (int i = 0; vector != 0; vector >>= 1, ++i)
    if (vector & 1) sum ^= matrix[i];
  return sum;
}

void square(std::uint32_t* out, const std::uint32_t* matrix) {
  for (int i = 0; i < 32; ++i) out[i] = times(matrix, matrix[i]);
}

}  // namespace

std::uint32_t crc32c_combine(std::uint32_t first, std::uint32_t second, std::uint64_t second_size) {
  if (second_size == 0) return first;
  std::uint32_t even[32], odd[32];
  odd[0] = 0x82F63B78u;  // one zero bit
  for (int i = 1, row = 1; i < 32; ++i, row <<= 1) odd[i] = static_cast<std::uint32_t>(row);
  square(even, odd);  // two zero bits
  square(odd, even);  // four
  // Apply len2 zero bytes to `first`: the first squaring gives one byte (eight bits).
  do {
    square(even, odd);
    if (second_size & 1) first = times(even, first);
    second_size >>= 1;
    if (second_size == 0) break;
    square(odd, even);
    if (second_size & 1) first = times(odd, first);
    second_size >>= 1;
  } while (second_size != 0);
  return first ^ second;
}

std::uint32_t crc32c_of_pieces(const std::vector<std::uint32_t>& crcs, std::uint64_t piece, std::uint64_t size) {
  std::uint32_t crc = 0;
  for (std::size_t i = 0; i < crcs.size(); ++i) crc = crc32c_combine(crc, crcs[i], std::min(piece, size - i * piece));
  return crc;
}

}  // namespace supervise::checkpoint

namespace supervise::checkpoint {

std::string crc32c_base64(std::uint32_t crc) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char b[4] = {static_cast<unsigned char>(crc >> 24), static_cast<unsigned char>(crc >> 16),
                              static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
  std::string out;
  out += kAlphabet[b[0] >> 2];
  out += kAlphabet[((b[0] & 3) << 4) | (b[1] >> 4)];
  out += kAlphabet[((b[1] & 15) << 2) | (b[2] >> 6)];
  out += kAlphabet[b[2] & 63];
  out += kAlphabet[b[3] >> 2];
  out += kAlphabet[(b[3] & 3) << 4];
  return out + "==";
}

}  // namespace supervise::checkpoint
