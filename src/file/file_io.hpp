// The filesystem seam of the file storage: the calls whose failure matters
// for durability go through FileIo, so tests can inject a full disk or a
// failing fsync. The default forwards to POSIX; a test double overrides
// only the calls it wants to break.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>

namespace prevayler::detail {

class FileIo {
 public:
  virtual ~FileIo() = default;
  virtual ssize_t pwrite(int fd, const void* data, std::size_t size, off_t offset);
  virtual int fdatasync(int fd);
  virtual int fsync(int fd);
  virtual int ftruncate(int fd, off_t size);
};

std::shared_ptr<FileIo> posix_file_io();

}  // namespace prevayler::detail
