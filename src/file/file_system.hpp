// The filesystem seam of the file storage, in the spirit of LevelDB's Env:
// every system call the storage and its retention make goes through a
// FileSystem, so tests can run it on a simulated disk that loses unsynced
// data at power loss, shares one directory between hosts, and injects
// faults (tests/support/sim_fs.hpp). PosixFileSystem is the default;
// FileSystemWrapper forwards every call, so a test double overrides one.
//
// Every call returns 0 or an errno value (never sets errno for the caller).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace prevayler::detail {

// What pwrite_direct() requires of its buffer's address, its size and its
// offset: the logical block size of every common disk (512 or 4096 bytes).
// A device that needs more rejects the write with EINVAL, as a filesystem
// without direct I/O does, and the caller writes through the page cache.
constexpr std::size_t direct_write_alignment_bytes = 4096;

// Which file a path or descriptor refers to: equal identities are one file.
struct FileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

struct FileStat {
  std::uint64_t size_bytes = 0;
  // Last modification, milliseconds since the Unix epoch (retention by age
  // dates snapshot files with it).
  std::int64_t modified_ms = 0;
  FileIdentity identity;
  bool directory = false;
};

enum class OpenMode {
  read,                // an existing file, read only
  read_write,          // an existing file
  create_exclusive,    // O_CREAT | O_EXCL: EEXIST when the name exists
  create_or_truncate,  // O_CREAT | O_TRUNC
  create_or_open,      // O_CREAT
  directory,           // an existing directory, for fsync and listing
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual int open(const std::string& path, OpenMode mode, int& fd) = 0;
  virtual void close(int fd) = 0;
  // One call; `done` bytes were transferred (fewer than asked at the end of
  // a file). pwrite may transfer part of the data and then fail.
  virtual int pread(int fd, char* data, std::size_t size, std::uint64_t offset,
                    std::size_t& done) = 0;
  virtual int pwrite(int fd, const char* data, std::size_t size, std::uint64_t offset,
                     std::size_t& done) = 0;
  // A gather write: `count` pieces, in order, as one run of bytes from
  // `offset`, in one call (a large record's header and entries without
  // copying them into one buffer). `done` bytes were transferred; it may
  // transfer part of them and then fail, as pwrite. The default writes the
  // pieces with pwrite, one call each, stopping at the first short or failed
  // one: a test double that overrides pwrite sees gather writes too.
  virtual int pwritev(int fd, const std::string_view* pieces, std::size_t count,
                      std::uint64_t offset, std::size_t& done);
  // A write that bypasses the page cache (O_DIRECT): large records go to
  // the disk from the writer's own buffer instead of being copied into new
  // page-cache pages, which costs more than the disk on some machines
  // (docs/benchmarks.md, "Large records written direct"). Not durable
  // until fdatasync, like pwrite. REQUIRES: `data`, `size` and `offset`
  // multiples of direct_write_alignment_bytes. EINVAL, with nothing
  // written, when the file cannot be written that way. The default is
  // pwrite: a test double that overrides pwrite sees direct writes too.
  virtual int pwrite_direct(int fd, const char* data, std::size_t size, std::uint64_t offset,
                            std::size_t& done);
  virtual int fsync(int fd) = 0;      // data and metadata; of a directory: its entries
  virtual int fdatasync(int fd) = 0;  // data and size
  virtual int ftruncate(int fd, std::uint64_t size) = 0;
  // Makes bytes [offset, offset + size) of the file zeros that are already
  // written on disk, growing the file to at least offset + size: a later
  // pwrite there plus fdatasync then changes no size or extent metadata.
  // REQUIRES: nothing but zeros or unused space lies in that range. May
  // fail part way (the file then holds part of the zeros).
  virtual int preallocate(int fd, std::uint64_t offset, std::uint64_t size) = 0;
  virtual int fstat(int fd, FileStat& stat) = 0;
  virtual int stat(const std::string& path, FileStat& stat) = 0;  // ENOENT when missing
  // fstat and stat without the file's times (modified_ms stays 0), for the
  // checks the journal makes at every append and every follower read.
  // Why: on Linux 6.13 or later (multigrain timestamps) reading a file's
  // times makes its next write take a fine-grained time, so every write
  // changes its inode and every fdatasync writes the inode too: one more
  // disk request per journal write (3 instead of 2, measured with
  // `perf stat -e block:block_rq_issue`). The defaults call fstat and stat,
  // so a test double that overrides those sees these calls too.
  virtual int fstat_without_times(int fd, FileStat& stat);
  virtual int stat_without_times(const std::string& path, FileStat& stat);
  virtual int rename(const std::string& from, const std::string& to) = 0;
  virtual int unlink(const std::string& path) = 0;
  virtual int mkdir(const std::string& path) = 0;  // one level; EEXIST when present
  virtual int list(const std::string& directory, std::vector<std::string>& names) = 0;
  // Exclusive and non-blocking, held until the descriptor is closed;
  // EWOULDBLOCK when another holder has it. Like flock: it may not hold
  // across hosts on a shared filesystem.
  virtual int lock(int fd) = 0;

  bool exists(const std::string& path);
};

// Forwards every call to `target`: a test double derives from it and
// overrides only the calls it wants to change.
class FileSystemWrapper : public FileSystem {
 public:
  explicit FileSystemWrapper(std::shared_ptr<FileSystem> target) : target_(std::move(target)) {}
  int open(const std::string& path, OpenMode mode, int& fd) override {
    return target_->open(path, mode, fd);
  }
  void close(int fd) override { target_->close(fd); }
  int pread(int fd, char* data, std::size_t size, std::uint64_t offset,
            std::size_t& done) override {
    return target_->pread(fd, data, size, offset, done);
  }
  int pwrite(int fd, const char* data, std::size_t size, std::uint64_t offset,
             std::size_t& done) override {
    return target_->pwrite(fd, data, size, offset, done);
  }
  // pwritev and pwrite_direct are not forwarded: FileSystem's defaults go
  // through this wrapper's pwrite, so a double that changes pwrite changes
  // gather and direct writes.
  int fsync(int fd) override { return target_->fsync(fd); }
  int fdatasync(int fd) override { return target_->fdatasync(fd); }
  int ftruncate(int fd, std::uint64_t size) override { return target_->ftruncate(fd, size); }
  int preallocate(int fd, std::uint64_t offset, std::uint64_t size) override {
    return target_->preallocate(fd, offset, size);
  }
  int fstat(int fd, FileStat& stat) override { return target_->fstat(fd, stat); }
  int stat(const std::string& path, FileStat& stat) override { return target_->stat(path, stat); }
  // fstat_without_times and stat_without_times are not forwarded either:
  // the defaults go through this wrapper's fstat and stat.
  int rename(const std::string& from, const std::string& to) override {
    return target_->rename(from, to);
  }
  int unlink(const std::string& path) override { return target_->unlink(path); }
  int mkdir(const std::string& path) override { return target_->mkdir(path); }
  int list(const std::string& directory, std::vector<std::string>& names) override {
    return target_->list(directory, names);
  }
  int lock(int fd) override { return target_->lock(fd); }

 protected:
  std::shared_ptr<FileSystem> target_;
};

// The real filesystem (POSIX calls, EINTR retried).
class PosixFileSystem : public FileSystem {
 public:
  int open(const std::string& path, OpenMode mode, int& fd) override;
  void close(int fd) override;
  int pread(int fd, char* data, std::size_t size, std::uint64_t offset, std::size_t& done) override;
  int pwrite(int fd, const char* data, std::size_t size, std::uint64_t offset,
             std::size_t& done) override;
  // ::pwritev, at most gather_pieces_per_call pieces per call.
  int pwritev(int fd, const std::string_view* pieces, std::size_t count, std::uint64_t offset,
              std::size_t& done) override;
  // Sets O_DIRECT on the descriptor for this one write (fcntl), then clears
  // it: the same descriptor, so the write is fenced like every other.
  int pwrite_direct(int fd, const char* data, std::size_t size, std::uint64_t offset,
                    std::size_t& done) override;
  int fsync(int fd) override;
  int fdatasync(int fd) override;
  int ftruncate(int fd, std::uint64_t size) override;
  // Writes the zeros (fallocate would leave "unwritten" extents, whose
  // conversion at each later write costs a metadata commit per fdatasync on
  // ext4 and XFS: bench/journal_bench.cpp measures both loops).
  int preallocate(int fd, std::uint64_t offset, std::uint64_t size) override;
  int fstat(int fd, FileStat& stat) override;
  int stat(const std::string& path, FileStat& stat) override;
  // statx(2) asking for the type, inode and size only.
  int fstat_without_times(int fd, FileStat& stat) override;
  int stat_without_times(const std::string& path, FileStat& stat) override;
  int rename(const std::string& from, const std::string& to) override;
  int unlink(const std::string& path) override;
  int mkdir(const std::string& path) override;
  int list(const std::string& directory, std::vector<std::string>& names) override;
  int lock(int fd) override;
};

std::shared_ptr<FileSystem> posix_file_system();

// An open descriptor of a FileSystem, closed on destruction. Move-only.
class File {
 public:
  File() = default;
  File(FileSystem& fs, int fd) : fs_(&fs), fd_(fd) {}
  File(File&& other) noexcept : fs_(other.fs_), fd_(other.fd_) { other.fd_ = -1; }
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset();

 private:
  FileSystem* fs_ = nullptr;
  int fd_ = -1;
};

// Opens `path`; 0 or the errno, `file` set on success.
int open_file(FileSystem& fs, const std::string& path, OpenMode mode, File& file);

// Writes all of `data` at `offset`; 0 or the errno of the failure.
int write_fully(FileSystem& fs, int fd, std::string_view data, std::uint64_t offset);

// Writes all of `pieces`, in order, from `offset` with gather writes; 0 or
// the errno of the failure.
int write_fully(FileSystem& fs, int fd, std::vector<std::string_view> pieces, std::uint64_t offset);

// Reads exactly `size` bytes at `offset`; 0, the errno, or EIO at an
// unexpected end of file.
int read_fully(FileSystem& fs, int fd, char* data, std::size_t size, std::uint64_t offset);

std::string errno_text(int error);
// errno_text, with the remedy for a full disk.
std::string write_failure_text(int error);

}  // namespace prevayler::detail
