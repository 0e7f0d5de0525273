#include "file/file_io.hpp"

#include <unistd.h>

namespace prevayler::detail {

ssize_t FileIo::pwrite(int fd, const void* data, std::size_t size, off_t offset) {
  return ::pwrite(fd, data, size, offset);
}
int FileIo::fdatasync(int fd) { return ::fdatasync(fd); }
int FileIo::fsync(int fd) { return ::fsync(fd); }
int FileIo::ftruncate(int fd, off_t size) { return ::ftruncate(fd, size); }

std::shared_ptr<FileIo> posix_file_io() {
  static const auto io = std::make_shared<FileIo>();
  return io;
}

}  // namespace prevayler::detail
