// Reading the records of a journal segment: a sliding window over a file
// read through the FileSystem seam, the record check (the frame of
// core/record_frame plus the smallest payload a record has), and the test
// that tells a torn final write from damage in the middle.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/record_frame.hpp"
#include "file/file_system.hpp"

namespace prevayler::detail {

// A file recovery was about to read is gone (ENOENT): retention on another
// host deleted it. Internal: recovery turns it into a restart or an error.
struct FileVanished : std::runtime_error {
  explicit FileVanished(const std::string& path) : std::runtime_error(path) {}
};

// A file shrank while it was read: its writer cut the preallocated zeros
// off it (a segment it sealed). What was written is still there; the
// reader starts over, as for a vanished file.
struct FileShrank : FileVanished {
  explicit FileShrank(const std::string& path) : FileVanished(path) {}
};

// Opens `path` for reading and sets `size` (or `st`: its size and identity,
// no times). Throws FileVanished when it does not exist, StorageError on any
// other failure.
File open_for_read(FileSystem& fs, const std::string& path, std::uint64_t& size);
File open_for_read(FileSystem& fs, const std::string& path, FileStat& st);

// Reads a file through a sliding window, so replay makes few calls and
// never holds a whole segment in memory.
class WindowReader {
 public:
  WindowReader(FileSystem& fs, int fd, std::uint64_t file_size, std::string path)
      : fs_(fs), fd_(fd), file_size_(file_size), path_(std::move(path)) {}

  std::uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }

  // `size` bytes at `offset`, valid until the next call. REQUIRES: they lie
  // within file_size(). Throws FileShrank when the file has become shorter
  // than that, StorageError naming the file and offset on other failures.
  std::string_view view(std::uint64_t offset, std::size_t size);

 private:
  FileSystem& fs_;
  int fd_;
  std::uint64_t file_size_;
  std::string path_;
  std::string window_;
  std::uint64_t window_offset_ = 0;
};

// Checks the record at `offset`: its frame, and that its payload is not
// shorter than any record's (bad). On ok sets `payload` (a view into the
// reader's window).
FrameCheck check_record(WindowReader& reader, std::uint64_t offset, std::string_view& payload);

// True when every byte from `offset` to the end of the reader is zero: a
// preallocated region no write reached, the end of an open-ended segment
// (docs/format.md, "Preallocated space"). A record is never all zeros (its
// length is at least record_payload_bytes_min), so this tells an unwritten
// tail from a torn write, which leaves non-zero bytes.
bool unwritten_from(WindowReader& reader, std::uint64_t offset);

// True when any offset after `from` starts a batch record that passes its
// checksum: then the damage at `from` is not a torn final write.
bool valid_record_after(WindowReader& reader, std::uint64_t from);

}  // namespace prevayler::detail
