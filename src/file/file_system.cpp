#include "file/file_system.hpp"

#include "core/assert.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace prevayler::detail {

bool FileSystem::exists(const std::string& path) {
  FileStat st;
  return stat_without_times(path, st) == 0;
}

int FileSystem::fstat_without_times(int fd, FileStat& stat) {
  const int error = fstat(fd, stat);
  stat.modified_ms = 0;
  return error;
}

int FileSystem::stat_without_times(const std::string& path, FileStat& stat) {
  const int error = this->stat(path, stat);
  stat.modified_ms = 0;
  return error;
}

namespace {

// Permissions of new files and directories, before the umask: the owner
// writes, everyone reads (the journal holds no secrets of ours; restrict
// the directory itself when it should).
constexpr mode_t directory_mode = 0755;

int flags_of(OpenMode mode) {
  switch (mode) {
    case OpenMode::read:
      return O_RDONLY;
    case OpenMode::read_write:
      return O_RDWR;
    case OpenMode::create_exclusive:
      return O_RDWR | O_CREAT | O_EXCL;
    case OpenMode::create_or_truncate:
      return O_WRONLY | O_CREAT | O_TRUNC;
    case OpenMode::create_or_open:
      return O_RDWR | O_CREAT;
    case OpenMode::directory:
      return O_RDONLY | O_DIRECTORY;
  }
  return O_RDONLY;
}

FileStat to_file_stat(const struct stat& st) {
  FileStat out;
  out.size_bytes = static_cast<std::uint64_t>(st.st_size);
  out.modified_ms = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 +
                    static_cast<std::int64_t>(st.st_mtim.tv_nsec) / 1'000'000;
  out.identity = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  out.directory = S_ISDIR(st.st_mode);
  return out;
}

// rw-r--r--, less the umask: the files are the user's data, not secrets.
constexpr mode_t new_file_mode = 0644;

// The zeros preallocate() writes per call: big enough for few calls, small
// enough to keep in one static buffer.
constexpr std::size_t zero_fill_bytes_per_write = std::size_t{1} << 20;

// Pieces per ::pwritev call: within every Linux's IOV_MAX (1024), and a
// record gathers a few large entries between copied runs of small ones.
constexpr std::size_t gather_pieces_per_call = 1024;

// A call interrupted by signals this many times in a row fails with EINTR:
// far more than any real signal rate, and a bound on the loop.
constexpr int interrupted_calls_max = 10'000;

// Repeats a call interrupted by a signal; 0 or the errno.
template <class Call>
int retry(Call call) {
  for (int interrupted = 0; interrupted < interrupted_calls_max; ++interrupted) {
    if (call() == 0) return 0;
    if (errno != EINTR) return errno;
  }
  return EINTR;
}

}  // namespace

int PosixFileSystem::open(const std::string& path, OpenMode mode, int& fd) {
  return retry([&] {
    fd = ::open(path.c_str(), flags_of(mode) | O_CLOEXEC, new_file_mode);
    return fd >= 0 ? 0 : -1;
  });
}
void PosixFileSystem::close(int fd) { ::close(fd); }

int PosixFileSystem::pread(int fd, char* data, std::size_t size, std::uint64_t offset,
                           std::size_t& done) {
  return retry([&] {
    const ssize_t n = ::pread(fd, data, size, static_cast<off_t>(offset));
    done = n > 0 ? static_cast<std::size_t>(n) : 0;
    return n >= 0 ? 0 : -1;
  });
}
int PosixFileSystem::pwrite(int fd, const char* data, std::size_t size, std::uint64_t offset,
                            std::size_t& done) {
  return retry([&] {
    const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    done = n > 0 ? static_cast<std::size_t>(n) : 0;
    return n >= 0 ? 0 : -1;
  });
}
int PosixFileSystem::pwritev(int fd, const std::string_view* pieces, std::size_t count,
                             std::uint64_t offset, std::size_t& done) {
  iovec vectors[gather_pieces_per_call];
  const std::size_t used = std::min(count, gather_pieces_per_call);
  for (std::size_t i = 0; i < used; ++i) {
    // iovec's base is not const, but pwritev only reads it.
    vectors[i].iov_base = const_cast<char*>(pieces[i].data());
    vectors[i].iov_len = pieces[i].size();
  }
  return retry([&] {
    const ssize_t n = ::pwritev(fd, vectors, static_cast<int>(used), static_cast<off_t>(offset));
    done = n > 0 ? static_cast<std::size_t>(n) : 0;
    return n >= 0 ? 0 : -1;
  });
}
int PosixFileSystem::pwrite_direct(int fd, const char* data, std::size_t size, std::uint64_t offset,
                                   std::size_t& done) {
  done = 0;
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  // EINVAL where the filesystem has no direct I/O (the caller falls back).
  if (::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) return errno;
  const int error = pwrite(fd, data, size, offset, done);
  // Buffered again for the appends that follow. A failure here would make
  // them fail (unaligned), so it fails this write too: it then does not
  // count, and the journal goes on without it.
  if (::fcntl(fd, F_SETFL, flags) != 0 && error == 0) return errno;
  return error;
}
int PosixFileSystem::fsync(int fd) {
  return retry([&] { return ::fsync(fd); });
}
int PosixFileSystem::fdatasync(int fd) {
  return retry([&] { return ::fdatasync(fd); });
}
int PosixFileSystem::ftruncate(int fd, std::uint64_t size) {
  return retry([&] { return ::ftruncate(fd, static_cast<off_t>(size)); });
}
int PosixFileSystem::preallocate(int fd, std::uint64_t offset, std::uint64_t size) {
  static const std::string zeros(zero_fill_bytes_per_write, '\0');
  // Each pass writes at least one piece or fails: bounded by size.
  while (size > 0) {
    const auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(size, zeros.size()));
    if (int error = write_fully(*this, fd, std::string_view(zeros.data(), piece), offset)) {
      return error;
    }
    offset += piece;
    size -= piece;
  }
  return 0;
}
int PosixFileSystem::fstat(int fd, FileStat& out) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  out = to_file_stat(st);
  return 0;
}
int PosixFileSystem::stat(const std::string& path, FileStat& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno;
  out = to_file_stat(st);
  return 0;
}
namespace {

// What the journal's checks need of a file, and no time (file_system.hpp).
constexpr unsigned statx_without_times_mask = STATX_TYPE | STATX_INO | STATX_SIZE;

FileStat to_file_stat(const struct statx& sx) {
  FileStat out;
  out.size_bytes = sx.stx_size;
  out.identity = {static_cast<std::uint64_t>(makedev(sx.stx_dev_major, sx.stx_dev_minor)),
                  static_cast<std::uint64_t>(sx.stx_ino)};
  out.directory = S_ISDIR(sx.stx_mode);
  return out;
}

// 0 or the errno (ENOSYS where the kernel has no statx).
int statx_without_times(int directory_fd, const char* path, int flags, FileStat& out) {
  struct statx sx {};
  if (::statx(directory_fd, path, flags, statx_without_times_mask, &sx) != 0) return errno;
  out = to_file_stat(sx);
  return 0;
}

}  // namespace

int PosixFileSystem::fstat_without_times(int fd, FileStat& out) {
  const int error = statx_without_times(fd, "", AT_EMPTY_PATH, out);
  return error == ENOSYS ? FileSystem::fstat_without_times(fd, out) : error;  // before Linux 4.11
}

int PosixFileSystem::stat_without_times(const std::string& path, FileStat& out) {
  const int error = statx_without_times(AT_FDCWD, path.c_str(), 0, out);
  return error == ENOSYS ? FileSystem::stat_without_times(path, out) : error;
}

int PosixFileSystem::rename(const std::string& from, const std::string& to) {
  return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}
int PosixFileSystem::unlink(const std::string& path) {
  return ::unlink(path.c_str()) == 0 ? 0 : errno;
}
int PosixFileSystem::mkdir(const std::string& path) {
  return ::mkdir(path.c_str(), directory_mode) == 0 ? 0 : errno;
}
int PosixFileSystem::list(const std::string& directory, std::vector<std::string>& names) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return errno;
  names.clear();
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  const int error = errno;
  ::closedir(dir);
  return error;
}
int PosixFileSystem::lock(int fd) {
  return retry([&] { return ::flock(fd, LOCK_EX | LOCK_NB); });
}

std::shared_ptr<FileSystem> posix_file_system() {
  static const auto fs = std::make_shared<PosixFileSystem>();
  return fs;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    reset();
    fs_ = other.fs_;
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void File::reset() {
  if (fd_ >= 0) fs_->close(fd_);
  fd_ = -1;
}

int open_file(FileSystem& fs, const std::string& path, OpenMode mode, File& file) {
  int fd = -1;
  if (int error = fs.open(path, mode, fd)) return error;
  file = File(fs, fd);
  return 0;
}

int write_fully(FileSystem& fs, int fd, std::string_view data, std::uint64_t offset) {
  // Each call either makes progress or fails: bounded by the data's size.
  while (!data.empty()) {
    std::size_t done = 0;
    if (int error = fs.pwrite(fd, data.data(), data.size(), offset, done)) return error;
    if (done == 0) return EIO;
    data.remove_prefix(done);
    offset += done;
  }
  return 0;
}

int FileSystem::pwritev(int fd, const std::string_view* pieces, std::size_t count,
                        std::uint64_t offset, std::size_t& done) {
  done = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t piece_done = 0;
    const int error = pwrite(fd, pieces[i].data(), pieces[i].size(), offset + done, piece_done);
    done += piece_done;
    if (error || piece_done < pieces[i].size()) return error;
  }
  return 0;
}

int FileSystem::pwrite_direct(int fd, const char* data, std::size_t size, std::uint64_t offset,
                              std::size_t& done) {
  return pwrite(fd, data, size, offset, done);
}

int write_fully(FileSystem& fs, int fd, std::vector<std::string_view> pieces,
                std::uint64_t offset) {
  std::erase_if(pieces, [](std::string_view piece) { return piece.empty(); });
  std::size_t first = 0;  // pieces before it are written
  // Each call either makes progress or fails: bounded by the data's size.
  while (first < pieces.size()) {
    std::size_t done = 0;
    if (int error = fs.pwritev(fd, pieces.data() + first, pieces.size() - first, offset, done)) {
      return error;
    }
    if (done == 0) return EIO;
    offset += done;
    // Bounded by the pieces: each pass consumes one or ends the loop.
    while (done > 0) {
      PREVAYLER_ASSERT(first < pieces.size());
      const std::size_t taken = std::min(done, pieces[first].size());
      pieces[first].remove_prefix(taken);
      done -= taken;
      if (pieces[first].empty()) ++first;
    }
  }
  return 0;
}

int read_fully(FileSystem& fs, int fd, char* data, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    std::size_t done = 0;
    if (int error = fs.pread(fd, data, size, offset, done)) return error;
    if (done == 0) return EIO;
    data += done;
    size -= done;
    offset += done;
  }
  return 0;
}

std::string errno_text(int error) { return std::strerror(error); }

std::string write_failure_text(int error) {
  if (error == ENOSPC || error == EDQUOT) {
    return "the disk is full (" + errno_text(error) + "); free space and retry";
  }
  return errno_text(error);
}

}  // namespace prevayler::detail
