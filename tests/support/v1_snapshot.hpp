// A version-1 snapshot exactly as builds before compression wrote it, made
// by hand from docs/format.md (header, cereal portable binary body,
// trailer), not with the library's own writer: a test that loads it checks
// the format, not the writer against itself.
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cstdint>
#include <sstream>
#include <string>

#include "core/bytes.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "support/string_log.hpp"

namespace prevayler::testing {

// The snapshot file or object with id 1 of `state`.
inline std::string hand_made_v1_snapshot(const StringLog& state) {
  std::ostringstream body_stream;
  {
    cereal::PortableBinaryOutputArchive archive(body_stream);
    archive(state);
  }
  const std::string body = body_stream.str();
  std::string snapshot(detail::snapshot_magic);
  detail::put_u32(snapshot, 1);  // version
  detail::put_u32(snapshot, 0);  // flags
  detail::put_u64(snapshot, 1);  // snapshot id
  detail::put_u32(snapshot, detail::crc32c_mask(detail::crc32c(snapshot)));
  snapshot += body;
  detail::put_u64(snapshot, body.size());
  detail::put_u32(snapshot, detail::crc32c_mask(detail::crc32c(body)));
  snapshot += "PVLSEND1";
  return snapshot;
}

}  // namespace prevayler::testing
