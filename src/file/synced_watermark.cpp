#include "file/synced_watermark.hpp"

#include "core/bytes.hpp"
#include "core/crc32c.hpp"
#include "file/naming.hpp"

namespace prevayler::detail {
namespace {

// "PVSW" little-endian, then the format version.
constexpr std::uint32_t watermark_magic = 0x57535650;
constexpr std::uint32_t watermark_format_version = 1;
// magic, version, segment, offset, CRC-32C of those 24 bytes, padding.
constexpr std::size_t watermark_checked_bytes = 24;
constexpr std::size_t watermark_bytes = 32;

}  // namespace

int WatermarkPublisher::open(FileSystem& fs, const std::string& directory) {
  fs_ = &fs;
  return open_file(fs, path_in(directory, synced_watermark_name), OpenMode::create_or_open, file_);
}

void WatermarkPublisher::publish(const SyncedWatermark& watermark) {
  if (!file_) return;
  std::string bytes;
  put_u32(bytes, watermark_magic);
  put_u32(bytes, watermark_format_version);
  put_u64(bytes, watermark.segment);
  put_u64(bytes, watermark.offset);
  put_u32(bytes, crc32c(bytes));
  bytes.resize(watermark_bytes, '\0');
  // Ignored on failure: followers lag, nobody loses anything (header).
  (void)write_fully(*fs_, file_.get(), bytes, 0);
}

std::optional<SyncedWatermark> read_synced_watermark(FileSystem& fs, const std::string& directory) {
  File file;
  if (open_file(fs, path_in(directory, synced_watermark_name), OpenMode::read, file) != 0) {
    return std::nullopt;
  }
  char bytes[watermark_bytes];
  if (read_fully(fs, file.get(), bytes, watermark_bytes, 0) != 0) return std::nullopt;
  if (get_u32(bytes) != watermark_magic || get_u32(bytes + 4) != watermark_format_version) {
    return std::nullopt;
  }
  if (get_u32(bytes + watermark_checked_bytes) !=
      crc32c(std::string_view(bytes, watermark_checked_bytes))) {
    return std::nullopt;
  }
  return SyncedWatermark{get_u64(bytes + 8), get_u64(bytes + 16)};
}

}  // namespace prevayler::detail
