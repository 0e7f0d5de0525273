#include "core/record_frame.hpp"

#include "core/assert.hpp"
#include "core/bytes.hpp"
#include "core/crc32c.hpp"

namespace prevayler::detail {

std::size_t open_frame(std::string& out) {
  const std::size_t start = out.size();
  out.append(record_header_bytes, '\0');
  return start;
}

void close_frame(std::string& out, std::size_t start) {
  PREVAYLER_ASSERT(out.size() >= start + record_header_bytes);
  const std::size_t payload_bytes = out.size() - start - record_header_bytes;
  PREVAYLER_ASSERT(payload_bytes <= record_payload_bytes_max);
  set_u32(out.data() + start + frame_crc_bytes, static_cast<std::uint32_t>(payload_bytes));
  // The checksum covers the length too: a damaged length is caught, not
  // trusted to find the next record.
  const std::string_view covered = std::string_view(out).substr(start + frame_crc_bytes);
  set_u32(out.data() + start, crc32c_mask(crc32c(covered)));
}

void close_frame(char* header, const std::vector<std::string_view>& payload) {
  std::size_t payload_bytes = 0;
  for (std::string_view piece : payload) payload_bytes += piece.size();
  PREVAYLER_ASSERT(payload_bytes <= record_payload_bytes_max);
  set_u32(header + frame_crc_bytes, static_cast<std::uint32_t>(payload_bytes));
  // As close_frame: the length, then the payload, piece by piece.
  std::uint32_t crc = crc32c_extend(0, header + frame_crc_bytes, frame_length_bytes);
  for (std::string_view piece : payload) crc = crc32c_extend(crc, piece.data(), piece.size());
  set_u32(header, crc32c_mask(crc));
}

void append_frame(std::string& out, std::string_view payload) {
  const std::size_t start = open_frame(out);
  out.append(payload);
  close_frame(out, start);
}

std::uint32_t frame_payload_bytes(std::string_view header) {
  PREVAYLER_ASSERT(header.size() >= record_header_bytes);
  return get_u32(header.data() + frame_crc_bytes);
}

FrameCheck check_frame(std::string_view bytes, std::string_view& payload) {
  if (bytes.size() < record_header_bytes) return FrameCheck::incomplete;
  const std::uint32_t length = frame_payload_bytes(bytes);
  if (bytes.size() - record_header_bytes < length) return FrameCheck::incomplete;
  const std::uint32_t stored_crc = get_u32(bytes.data());
  const std::string_view covered = bytes.substr(frame_crc_bytes, frame_length_bytes + length);
  if (crc32c_unmask(stored_crc) != crc32c(covered)) return FrameCheck::bad;
  payload = covered.substr(frame_length_bytes);
  return FrameCheck::ok;
}

}  // namespace prevayler::detail
