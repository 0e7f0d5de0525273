// A whole file's bytes, read or written at once: what the tests that damage
// or inspect stored files byte by byte start from.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace prevayler::testing {

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_all(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace prevayler::testing
