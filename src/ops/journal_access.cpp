#include "ops/journal_access.hpp"

#include <random>

namespace prevayler::ops {

const char* to_string(SegmentEnd end) {
  switch (end) {
    case SegmentEnd::start_record:
      return "start record";
    case SegmentEnd::seal:
      return "seal";
    case SegmentEnd::tail:
      return "tail";
  }
  return "?";
}

void DrainingHandler::snapshot(std::uint64_t, std::istream& state) {
  char chunk[1 << 16];
  // Bounded by the stream, which ends with the snapshot's body.
  while (state.read(chunk, sizeof chunk) || state.gcount() > 0) {
  }
}

std::uint64_t random_writer_id() {
  std::random_device random;
  return (static_cast<std::uint64_t>(random()) << 32) ^ random();
}

}  // namespace prevayler::ops
