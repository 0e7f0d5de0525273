#include "core/crc32c.hpp"

#include <array>
#include <cstring>

namespace prevayler::detail {
namespace {

constexpr std::uint32_t castagnoli_reflected = 0x82f63b78u;

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> tables{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? castagnoli_reflected : 0u);
    tables[0][i] = crc;
  }
  for (std::size_t t = 1; t < 8; ++t) {
    for (std::size_t i = 0; i < 256; ++i) {
      tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][tables[t - 1][i] & 0xffu];
    }
  }
  return tables;
}

constexpr auto crc_tables = make_tables();

std::uint32_t crc32c_portable(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  // Slicing-by-8: eight bytes per step.
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    word ^= crc;
    crc = crc_tables[7][word & 0xff] ^ crc_tables[6][(word >> 8) & 0xff] ^
          crc_tables[5][(word >> 16) & 0xff] ^ crc_tables[4][(word >> 24) & 0xff] ^
          crc_tables[3][(word >> 32) & 0xff] ^ crc_tables[2][(word >> 40) & 0xff] ^
          crc_tables[1][(word >> 48) & 0xff] ^ crc_tables[0][(word >> 56) & 0xff];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ crc_tables[0][(crc ^ *p++) & 0xffu];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc,
                                                             const unsigned char* p,
                                                             std::size_t n) noexcept {
  std::uint64_t crc64 = crc;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    crc64 = __builtin_ia32_crc32di(crc64, word);
    p += 8;
    n -= 8;
  }
  auto crc32 = static_cast<std::uint32_t>(crc64);
  while (n-- > 0) crc32 = __builtin_ia32_crc32qi(crc32, *p++);
  return crc32;
}

bool cpu_has_sse42() noexcept {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  if (cpu_has_sse42()) return ~crc32c_sse42(crc, p, size);
#endif
  return ~crc32c_portable(crc, p, size);
}

}  // namespace prevayler::detail
