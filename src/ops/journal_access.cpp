#include "ops/journal_access.hpp"

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

}  // namespace prevayler::ops
