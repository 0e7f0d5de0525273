// The record frame: how a journal segment separates its records and tells
// a whole record from a torn or damaged one (docs/format.md, "Records"):
//
//   masked CRC-32C of (length + payload) (4) | payload length (4) | payload
//
// The one implementation of the frame, as LevelDB's log_format.h: the file
// storage writes and reads it, and the test simulator and the fuzzers build
// their segments with it, so they cannot drift from the real format. What a
// payload means (record_codec) and what damage means at a given place in a
// file (the torn-tail rule, file/record_reader) are not the frame's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/formats.hpp"

namespace prevayler::detail {

inline constexpr std::size_t frame_crc_bytes = 4;
inline constexpr std::size_t frame_length_bytes = 4;
static_assert(frame_crc_bytes + frame_length_bytes == record_header_bytes,
              "the frame header is the record header of docs/format.md");

// Appends room for a frame header to `out` and returns where the frame
// starts. Append the payload after it, then call close_frame.
std::size_t open_frame(std::string& out);

// Writes the header of the frame at out[start], whose payload runs to the
// end of `out`. REQUIRES: start came from open_frame on `out`, and the
// payload has at most record_payload_bytes_max bytes (callers check, to
// throw an error naming their file).
void close_frame(std::string& out, std::size_t start);

// close_frame for a payload in pieces (a gather write's): writes the
// header into the record_header_bytes at `header`. REQUIRES: the pieces
// hold at most record_payload_bytes_max bytes.
void close_frame(char* header, const std::vector<std::string_view>& payload);

// Appends one whole frame of `payload`.
void append_frame(std::string& out, std::string_view payload);

enum class FrameCheck {
  ok,          // a whole frame whose checksum matches
  incomplete,  // the bytes end before the frame does
  bad,         // the checksum does not match
};

// The payload length a frame header states. REQUIRES: header has at least
// record_header_bytes bytes.
std::uint32_t frame_payload_bytes(std::string_view header);

// Checks the frame at the start of `bytes`, which may go on past the frame.
// On ok sets `payload` to a view into `bytes`.
FrameCheck check_frame(std::string_view bytes, std::string_view& payload);

}  // namespace prevayler::detail
