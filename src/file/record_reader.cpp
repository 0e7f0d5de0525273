#include "file/record_reader.hpp"

#include <algorithm>
#include <cerrno>

#include "core/assert.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

File open_for_read(FileSystem& fs, const std::string& path, std::uint64_t& size) {
  FileStat st;
  File file = open_for_read(fs, path, st);
  size = st.size_bytes;
  return file;
}

File open_for_read(FileSystem& fs, const std::string& path, FileStat& st) {
  File file;
  if (int error = open_file(fs, path, OpenMode::read, file)) {
    if (error == ENOENT) throw FileVanished(path);
    throw StorageError("cannot open " + path + ": " + errno_text(error));
  }
  if (int error = fs.fstat_without_times(file.get(), st)) {
    throw StorageError("cannot stat " + path + ": " + errno_text(error));
  }
  return file;
}

std::string_view WindowReader::view(std::uint64_t offset, std::size_t size) {
  PREVAYLER_ASSERT(offset + size <= file_size_);
  if (offset < window_offset_ || offset + size > window_offset_ + window_.size()) {
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(std::max(size, read_buffer_bytes), file_size_ - offset));
    window_.resize(want);
    if (int error = read_fully(fs_, fd_, window_.data(), want, offset)) {
      window_.clear();
      FileStat st;
      if (error == EIO && fs_.fstat_without_times(fd_, st) == 0 && st.size_bytes < offset + want) {
        throw FileShrank(path_);
      }
      throw StorageError("cannot read " + path_ + " at offset " + std::to_string(offset) + ": " +
                         errno_text(error) + "; check the disk");
    }
    window_offset_ = offset;
  }
  return std::string_view(window_).substr(static_cast<std::size_t>(offset - window_offset_), size);
}

FrameCheck check_record(WindowReader& reader, std::uint64_t offset, std::string_view& payload) {
  if (offset + record_header_bytes > reader.file_size()) return FrameCheck::incomplete;
  const std::uint32_t length = frame_payload_bytes(reader.view(offset, record_header_bytes));
  if (offset + record_header_bytes + length > reader.file_size()) return FrameCheck::incomplete;
  if (length < record_payload_bytes_min) return FrameCheck::bad;
  const FrameCheck check = check_frame(reader.view(offset, record_header_bytes + length), payload);
  // The window holds the whole frame, so only its checksum can fail.
  PREVAYLER_ASSERT(check != FrameCheck::incomplete);
  return check;
}

bool unwritten_from(WindowReader& reader, std::uint64_t offset) {
  // Each pass moves on by a window or returns: bounded by the file's size.
  while (offset < reader.file_size()) {
    const auto size = static_cast<std::size_t>(
        std::min<std::uint64_t>(read_buffer_bytes, reader.file_size() - offset));
    if (reader.view(offset, size).find_first_not_of('\0') != std::string_view::npos) return false;
    offset += size;
  }
  return true;
}

bool valid_record_after(WindowReader& reader, std::uint64_t from) {
  for (std::uint64_t offset = from + 1;
       offset + record_header_bytes + record_payload_bytes_min <= reader.file_size(); ++offset) {
    const std::string_view head = reader.view(offset, record_header_bytes + record_kind_bytes);
    const auto version = static_cast<unsigned char>(head[record_header_bytes]);
    const auto type = static_cast<unsigned char>(head[record_header_bytes + 1]);
    const bool batch =
        version == record_format_version && type == static_cast<unsigned char>(RecordType::batch);
    const bool compressed_batch = version == record_format_version_compressed &&
                                  type == static_cast<unsigned char>(RecordType::compressed_batch);
    const bool encrypted_batch = version == record_format_version_encrypted &&
                                 type == static_cast<unsigned char>(RecordType::encrypted_batch);
    if (!batch && !compressed_batch && !encrypted_batch) continue;
    std::string_view payload;
    if (check_record(reader, offset, payload) == FrameCheck::ok) return true;
  }
  return false;
}

}  // namespace prevayler::detail
