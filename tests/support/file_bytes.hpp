// A whole file's bytes, read or written at once: what the tests that damage
// or inspect stored files byte by byte start from.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/formats.hpp"

namespace prevayler::testing {

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_all(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The offsets where the records of a journal segment's bytes start, up to
// the first that does not fit or reads as preallocated zeros (length 0):
// a segment being written has such zeros past its records.
inline std::vector<std::uint64_t> record_offsets(std::string_view segment) {
  std::vector<std::uint64_t> offsets;
  std::uint64_t offset = detail::segment_header_bytes;
  // Each pass moves past one record: bounded by the segment's size.
  while (offset + detail::record_header_bytes <= segment.size()) {
    const std::uint32_t length =
        detail::get_u32(segment.data() + offset + detail::record_length_offset);
    if (length == 0 || offset + detail::record_header_bytes + length > segment.size()) break;
    offsets.push_back(offset);
    offset += detail::record_header_bytes + length;
  }
  return offsets;
}

// Where those records end (the header's end when there are none).
inline std::uint64_t written_end(std::string_view segment) {
  const std::vector<std::uint64_t> offsets = record_offsets(segment);
  if (offsets.empty()) return std::min<std::uint64_t>(segment.size(), detail::segment_header_bytes);
  return offsets.back() + detail::record_header_bytes +
         detail::get_u32(segment.data() + offsets.back() + detail::record_length_offset);
}

}  // namespace prevayler::testing
