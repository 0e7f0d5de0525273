#include "file/direct_write.hpp"

#include <cerrno>
#include <cstring>
#include <new>

#include "core/assert.hpp"

namespace prevayler::detail {

void AlignedBuffer::Free::operator()(char* data) const {
  ::operator delete (data, std::align_val_t{direct_write_alignment_bytes});
}

char* AlignedBuffer::reserve(std::size_t size) {
  if (size > capacity_) {
    // The old buffer goes first (never two at once), and a failed
    // allocation leaves an empty one.
    data_.reset();
    capacity_ = 0;
    data_.reset(
        static_cast<char*>(::operator new (size, std::align_val_t{direct_write_alignment_bytes})));
    capacity_ = size;
  }
  return data_.get();
}

DirectWriteOutcome write_record_direct(FileSystem& fs, int fd, std::uint64_t offset,
                                       const std::vector<std::string_view>& pieces,
                                       AlignedBuffer& staging) {
  constexpr std::uint64_t block = direct_write_alignment_bytes;
  std::uint64_t record_bytes = 0;
  for (std::string_view piece : pieces) record_bytes += piece.size();
  const std::uint64_t start = offset / block * block;
  const auto head = static_cast<std::size_t>(offset - start);
  const std::uint64_t padded_end = (offset + record_bytes + block - 1) / block * block;
  const auto span = static_cast<std::size_t>(padded_end - start);
  char* buffer = staging.reserve(span);
  DirectWriteOutcome outcome{0, padded_end};
  // The block's head is in the file already (durable, or at least in the
  // page cache, which a direct write flushes first): rewritten unchanged.
  if (head > 0) {
    if (int error = read_fully(fs, fd, buffer, head, start)) {
      // Nothing written yet: the caller's fallback would write it again.
      outcome.error = error == EINVAL ? EIO : error;
      return outcome;
    }
  }
  std::size_t at = head;
  for (std::string_view piece : pieces) {
    std::memcpy(buffer + at, piece.data(), piece.size());
    at += piece.size();
  }
  std::memset(buffer + at, 0, span - at);
  std::size_t written = 0;
  // Each pass writes whole blocks or ends the loop: bounded by span / block.
  while (written < span) {
    std::size_t done = 0;
    const int error = fs.pwrite_direct(fd, buffer + written, span - written, start + written, done);
    if (error) {
      // EINVAL means "no direct I/O here" only when nothing was written.
      outcome.error = error == EINVAL && written + done > 0 ? EIO : error;
      return outcome;
    }
    // A short direct write stops on a block boundary unless the device
    // failed part way: anything else cannot be resumed aligned.
    if (done == 0 || done % block != 0) {
      outcome.error = EIO;
      return outcome;
    }
    written += done;
  }
  PREVAYLER_ASSERT(written == span);
  return outcome;
}

}  // namespace prevayler::detail
