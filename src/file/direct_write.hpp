// Writes one journal record past the page cache (O_DIRECT), for records
// large enough that copying them into new page-cache pages costs more than
// the disk's own write (docs/benchmarks.md, "Large records written direct").
//
// A direct write must start and end on block boundaries, so it rewrites the
// head of the block the record starts in (bytes already in the file, read
// back first, rewritten unchanged) and pads the record's last block with
// zeros. The file format does not change: those zeros read as preallocated
// space no write reached (docs/format.md, "Preallocated space"), and the
// next record overwrites them. A crash mid-write leaves the head block old
// or new, which hold the same bytes: an acknowledged record is never at
// stake, as with the page cache's own write-back of that block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "file/file_system.hpp"

namespace prevayler::detail {

// A reusable buffer aligned to direct_write_alignment_bytes.
class AlignedBuffer {
 public:
  // At least `size` bytes, aligned; the content is not kept.
  char* reserve(std::size_t size);
  std::size_t capacity() const { return capacity_; }
  void release() {
    data_.reset();
    capacity_ = 0;
  }

 private:
  struct Free {
    void operator()(char* data) const;
  };
  std::unique_ptr<char, Free> data_;
  std::size_t capacity_ = 0;
};

struct DirectWriteOutcome {
  // 0, or the errno of the failure (EINVAL with nothing written when the
  // file cannot take direct writes: write it through the page cache).
  int error = 0;
  // Past the last byte the write may have reached: the record's end rounded
  // up to a block (zeros beyond the record).
  std::uint64_t padded_end = 0;
};

// Writes `pieces` (one record) at `offset` of `fd` with direct writes,
// staged in `staging`. REQUIRES: the file holds at least `offset` bytes.
DirectWriteOutcome write_record_direct(FileSystem& fs, int fd, std::uint64_t offset,
                                       const std::vector<std::string_view>& pieces,
                                       AlignedBuffer& staging);

}  // namespace prevayler::detail
