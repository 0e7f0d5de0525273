// The synced watermark: where the journal is durable, published by the
// writer for followers on the same host (docs/followers.md, docs/format.md
// "SYNCED").
//
// Why: a reader of a segment file sees bytes the writer has written but not
// yet synced (the page cache is shared); a power loss would take them, and
// a follower that showed them would have shown a state no recovery
// produces. The owner rewrites the small file SYNCED after each write it
// acknowledges (after its fdatasync and fence check), so a follower applies
// nothing past it.
//
// Contract: the writer publishes (segment, offset) only once every byte of
// the journal up to `offset` in `segment` is durable and the writer still
// owned `segment` after it was; a publication is one 32-byte pwrite with
// a checksum, never synced (it is only a hint that a crash may lose: the
// bytes it names are durable). A reader keeps the greatest watermark it
// has seen: a superseded writer may publish an older one late.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "file/file_system.hpp"

namespace prevayler::detail {

struct SyncedWatermark {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;  // bytes of the segment file known durable
  friend auto operator<=>(const SyncedWatermark&, const SyncedWatermark&) = default;
};

inline constexpr const char* synced_watermark_name = "SYNCED";

// The writer's side: one descriptor, opened at recovery.
class WatermarkPublisher {
 public:
  // Opens (creating) SYNCED in `directory`. A failure only disables
  // publishing (followers then see nothing new): it returns the errno.
  int open(FileSystem& fs, const std::string& directory);
  // Publishes; a failed write is ignored for the same reason.
  void publish(const SyncedWatermark& watermark);
  void close() { file_.reset(); }

 private:
  FileSystem* fs_ = nullptr;
  File file_;
};

// The watermark in `directory`; nullopt when there is none (no writer of
// this release opened the journal yet) or it is being rewritten (the
// checksum fails: read it again later).
std::optional<SyncedWatermark> read_synced_watermark(FileSystem& fs, const std::string& directory);

}  // namespace prevayler::detail
