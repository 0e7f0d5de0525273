#include "file/file_storage_impl.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <streambuf>
#include <system_error>
#include <utility>

#include "core/bytes.hpp"
#include "core/container_header.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "core/zstd_stream.hpp"
#include "prevayler/error.hpp"

namespace prevayler {
namespace detail {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int error) { return std::strerror(error); }

std::string numbered_name(const char* prefix, std::uint64_t id, const char* suffix) {
  char name[64];
  std::snprintf(name, sizeof name, "%s%020" PRIu64 "%s", prefix, id, suffix);
  return name;
}

// Parses "<prefix><20 digits><suffix>"; nullopt for any other name.
std::optional<std::uint64_t> parse_numbered_name(const std::string& name, std::string_view prefix,
                                                 std::string_view suffix) {
  if (name.size() != prefix.size() + 20 + suffix.size()) return std::nullopt;
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  std::uint64_t id = 0;
  for (std::size_t i = prefix.size(); i < prefix.size() + 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    id = id * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return id;
}

std::string segment_name(std::uint64_t id) { return numbered_name("journal-", id, ".log"); }
std::string snapshot_name(std::uint64_t id) { return numbered_name("snapshot-", id, ".snap"); }

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Writes all of `data` at `offset`; returns 0 or the errno of the failure.
int write_fully(FileIo& io, int fd, std::string_view data, off_t offset) {
  while (!data.empty()) {
    const ssize_t n = io.pwrite(fd, data.data(), data.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += n;
  }
  return 0;
}

std::string write_failure_text(int error) {
  if (error == ENOSPC || error == EDQUOT)
    return "the disk is full (" + errno_text(error) + "); free space and retry";
  return errno_text(error);
}

// Reads a file through a sliding window, so replay makes few syscalls and
// never holds a whole segment in memory.
class WindowReader {
 public:
  WindowReader(int fd, std::uint64_t file_size, std::string path)
      : fd_(fd), file_size_(file_size), path_(std::move(path)) {}

  std::uint64_t file_size() const { return file_size_; }

  // `size` bytes at `offset`, valid until the next call; the caller checked
  // that they lie within the file.
  std::string_view view(std::uint64_t offset, std::size_t size) {
    if (offset < window_offset_ || offset + size > window_offset_ + window_.size()) {
      const std::size_t want = static_cast<std::size_t>(
          std::min<std::uint64_t>(std::max(size, read_buffer_bytes), file_size_ - offset));
      window_.resize(want);
      std::size_t done = 0;
      while (done < want) {
        const ssize_t n =
            ::pread(fd_, window_.data() + done, want - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          throw StorageError("cannot read " + path_ + " at offset " +
                             std::to_string(offset + done) + ": " +
                             (n < 0 ? errno_text(errno) : std::string("unexpected end of file")));
        }
        done += static_cast<std::size_t>(n);
      }
      window_offset_ = offset;
    }
    return std::string_view(window_).substr(static_cast<std::size_t>(offset - window_offset_),
                                            size);
  }

 private:
  int fd_;
  std::uint64_t file_size_;
  std::string path_;
  std::string window_;
  std::uint64_t window_offset_ = 0;
};

enum class RecordCheck { ok, incomplete, bad };

// Checks the record at `offset`; on ok sets `payload`.
RecordCheck check_record(WindowReader& reader, std::uint64_t offset, std::string_view& payload) {
  if (offset + record_header_bytes > reader.file_size()) return RecordCheck::incomplete;
  const std::string_view header = reader.view(offset, record_header_bytes);
  const std::uint32_t stored_crc = get_u32(header.data());
  const std::uint32_t length = get_u32(header.data() + 4);
  if (offset + record_header_bytes + length > reader.file_size()) return RecordCheck::incomplete;
  if (length < record_payload_bytes_min) return RecordCheck::bad;
  const std::string_view framed = reader.view(offset + 4, 4 + length);
  if (crc32c_unmask(stored_crc) != crc32c(framed)) return RecordCheck::bad;
  payload = framed.substr(4);
  return RecordCheck::ok;
}

// True when any offset after `from` starts a record that passes its
// checksum: then the damage at `from` is not a torn final write.
bool valid_record_after(WindowReader& reader, std::uint64_t from) {
  for (std::uint64_t offset = from + 1;
       offset + record_header_bytes + record_payload_bytes_min <= reader.file_size(); ++offset) {
    const std::string_view head = reader.view(offset, record_header_bytes + 2);
    const auto version = static_cast<unsigned char>(head[8]);
    const auto type = static_cast<unsigned char>(head[9]);
    const bool batch =
        version == record_format_version && type == static_cast<unsigned char>(RecordType::batch);
    const bool compressed_batch = version == record_format_version_compressed &&
                                  type == static_cast<unsigned char>(RecordType::compressed_batch);
    if (!batch && !compressed_batch) continue;
    std::string_view payload;
    if (check_record(reader, offset, payload) == RecordCheck::ok) return true;
  }
  return false;
}

void check_id(std::uint64_t found, std::uint64_t expected, const std::string& path,
              const char* what) {
  if (found != expected) {
    throw CorruptionError(path + ": header says " + what + " " + std::to_string(found) +
                          " but the file name says " + std::to_string(expected));
  }
}

// Streams the body of a verified snapshot file to the state codec.
class SnapshotBodyBuffer : public std::streambuf {
 public:
  SnapshotBodyBuffer(WindowReader& reader, std::uint64_t begin, std::uint64_t end)
      : reader_(reader), next_(begin), end_(end) {}

 protected:
  int_type underflow() override {
    if (next_ >= end_) return traits_type::eof();
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(read_buffer_bytes, end_ - next_));
    chunk_ = std::string(reader_.view(next_, n));
    next_ += n;
    setg(chunk_.data(), chunk_.data(), chunk_.data() + chunk_.size());
    return traits_type::to_int_type(chunk_[0]);
  }

 private:
  WindowReader& reader_;
  std::uint64_t next_;
  std::uint64_t end_;
  std::string chunk_;
};

// Buffers the serialised state, checksums it, and writes it out in large
// chunks to the temporary snapshot file.
class SnapshotFileBuffer : public std::streambuf {
 public:
  SnapshotFileBuffer(FileIo& io, int fd, std::string path, std::uint64_t offset)
      : io_(io), fd_(fd), path_(std::move(path)), offset_(offset) {
    buffer_.resize(read_buffer_bytes);
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  std::uint64_t body_bytes() const { return body_bytes_; }
  std::uint32_t body_crc() const { return crc_; }
  std::uint64_t offset() const { return offset_; }
  void flush_all() {
    if (!flush_buffer()) throw_write_error();
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (ch != traits_type::eof()) {
      *pptr() = static_cast<char>(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return flush_buffer() ? 0 : -1; }

 private:
  bool flush_buffer() {
    if (error_) return false;
    const std::string_view data(pbase(), static_cast<std::size_t>(pptr() - pbase()));
    if (data.empty()) return true;
    crc_ = crc32c_extend(crc_, data.data(), data.size());
    error_ = write_fully(io_, fd_, data, static_cast<off_t>(offset_));
    if (error_) return false;
    offset_ += data.size();
    body_bytes_ += data.size();
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return true;
  }
  [[noreturn]] void throw_write_error() {
    throw StorageError("cannot write snapshot " + path_ + " at offset " + std::to_string(offset_) +
                       ": " + write_failure_text(error_));
  }

  FileIo& io_;
  int fd_;
  std::string path_;
  std::uint64_t offset_;
  std::uint64_t body_bytes_ = 0;
  std::uint32_t crc_ = 0;
  int error_ = 0;
  std::string buffer_;
};

void sync_directory(FileIo& io, int dir_fd, const std::string& dir) {
  if (io.fsync(dir_fd) != 0) {
    throw StorageError("cannot sync directory " + dir + ": " + errno_text(errno));
  }
}

class FileSnapshotWriter : public SnapshotWriter {
 public:
  // compression_level: a zstd level, or nullopt to store the state as it is.
  FileSnapshotWriter(std::shared_ptr<FileIo> io, int dir_fd, fs::path directory, std::uint64_t id,
                     std::optional<int> compression_level, std::function<void()> on_committed)
      : on_committed_(std::move(on_committed)),
        io_(std::move(io)),
        dir_fd_(dir_fd),
        directory_(std::move(directory)),
        id_(id),
        final_path_(directory_ / snapshot_name(id)),
        temp_path_(directory_ / (snapshot_name(id) + ".tmp")) {
    fd_ = Fd(::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd_) {
      throw StorageError("cannot create snapshot file " + temp_path_.string() + ": " +
                         errno_text(errno));
    }
    const std::string header = make_snapshot_header(id, compression_level ? snapshot_flag_zstd : 0);
    if (int error = write_fully(*io_, fd_.get(), header, 0)) {
      throw StorageError("cannot write snapshot " + temp_path_.string() + ": " +
                         write_failure_text(error));
    }
    buffer_.emplace(*io_, fd_.get(), temp_path_.string(), header.size());
    if (compression_level) {
      zstd_.emplace(*buffer_, *compression_level, temp_path_.string());
      stream_.rdbuf(&*zstd_);
    } else {
      stream_.rdbuf(&*buffer_);
    }
    stream_.exceptions(std::ios::badbit);
  }

  ~FileSnapshotWriter() override {
    if (!committed_) {
      fd_.reset();
      ::unlink(temp_path_.c_str());
    }
  }

  std::uint64_t snapshot_id() const override { return id_; }
  std::ostream& stream() override { return stream_; }

  void commit() override {
    if (zstd_ && !zstd_->finish()) {
      buffer_->flush_all();  // throws the write error that stopped the compressor
      throw StorageError("cannot write snapshot " + temp_path_.string());
    }
    buffer_->flush_all();
    const std::string trailer = make_snapshot_trailer(buffer_->body_bytes(), buffer_->body_crc());
    if (int error = write_fully(*io_, fd_.get(), trailer, static_cast<off_t>(buffer_->offset()))) {
      throw StorageError("cannot write snapshot " + temp_path_.string() + ": " +
                         write_failure_text(error));
    }
    if (io_->fsync(fd_.get()) != 0) {
      throw StorageError("cannot sync snapshot " + temp_path_.string() + ": " + errno_text(errno));
    }
    fd_.reset();
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      throw StorageError("cannot rename " + temp_path_.string() + " to " + final_path_.string() +
                         ": " + errno_text(errno));
    }
    committed_ = true;
    sync_directory(*io_, dir_fd_, directory_.string());
    if (on_committed_) on_committed_();
  }

 private:
  std::function<void()> on_committed_;
  std::shared_ptr<FileIo> io_;
  int dir_fd_;
  fs::path directory_;
  std::uint64_t id_;
  fs::path final_path_;
  fs::path temp_path_;
  Fd fd_;
  std::optional<SnapshotFileBuffer> buffer_;
  std::optional<ZstdCompressBuffer> zstd_;
  std::ostream stream_{nullptr};
  bool committed_ = false;
};

// Deletes the snapshots older than the newest `keep` and the segments below
// the oldest kept snapshot. Returns the number of files deleted.
std::size_t prune_directory(const fs::path& directory, std::uint32_t keep) {
  if (keep == 0) throw ConfigError("pruning " + directory.string() + ": keep at least 1 snapshot");
  std::vector<std::uint64_t> snapshots;
  std::vector<std::pair<std::uint64_t, fs::path>> segments;
  std::vector<std::pair<std::uint64_t, fs::path>> snapshot_files;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(directory, ec)) {
    const std::string name = item.path().filename().string();
    if (auto id = parse_numbered_name(name, "snapshot-", ".snap")) {
      snapshots.push_back(*id);
      snapshot_files.emplace_back(*id, item.path());
    } else if (auto id = parse_numbered_name(name, "journal-", ".log")) {
      segments.emplace_back(*id, item.path());
    }
  }
  if (ec) throw StorageError("cannot list directory " + directory.string() + ": " + ec.message());
  if (snapshots.size() <= keep) return 0;
  std::sort(snapshots.begin(), snapshots.end());
  const std::uint64_t boundary = snapshots[snapshots.size() - keep];
  std::size_t deleted = 0;
  // Segments first: a crash in between leaves old snapshots without their
  // journal, which recovery never needs, never the reverse.
  for (auto* files : {&segments, &snapshot_files}) {
    for (const auto& [id, path] : *files) {
      if (id >= boundary) continue;
      if (fs::remove(path, ec)) ++deleted;
      if (ec) throw StorageError("cannot delete " + path.string() + ": " + ec.message());
    }
  }
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) ::fsync(dir.get());
  return deleted;
}

class FileStorage : public Storage {
 public:
  FileStorage(FileStorageOptions options, std::shared_ptr<FileIo> io, bool lock)
      : options_(std::move(options)),
        io_(std::move(io)),
        lock_(lock),
        compressor_(options_.compress_journal_records_over, options_.journal_compression_level,
                    "file storage") {
    if (options_.directory.empty()) {
      throw ConfigError("file storage: the directory path is empty");
    }
    if (options_.snapshot_compression_level < zstd_level_min ||
        options_.snapshot_compression_level > zstd_level_max) {
      throw ConfigError("file storage: snapshot_compression_level " +
                        std::to_string(options_.snapshot_compression_level) +
                        " is outside zstd's levels " + std::to_string(zstd_level_min) + " to " +
                        std::to_string(zstd_level_max));
    }
    if (!options_.warn) {
      options_.warn = [](const std::string& message) {
        std::cerr << "prevayler: warning: " << message << std::endl;
      };
    }
  }
  ~FileStorage() override { close(); }

  void recover(RecoveryHandler& handler) override {
    open_directory();
    if (lock_) lock_directory();
    std::map<std::uint64_t, fs::path> snapshots;
    std::map<std::uint64_t, fs::path> segments;
    list_files(snapshots, segments);

    std::uint64_t first_segment = 0;
    if (!snapshots.empty()) {
      first_segment = snapshots.rbegin()->first;
      read_snapshot(first_segment, snapshots.rbegin()->second, handler);
    } else if (!segments.empty() && segments.begin()->first != 0) {
      throw CorruptionError(dir() + ": the journal starts at " +
                            segments.begin()->second.filename().string() +
                            " but there is no snapshot it follows; restore the missing files");
    }
    segments.erase(segments.begin(), segments.lower_bound(first_segment));
    std::uint64_t expected = first_segment;
    for (const auto& [id, path] : segments) {
      if (id != expected) {
        throw CorruptionError(dir() + ": journal segment " + segment_name(expected) +
                              " is missing before " + path.filename().string() +
                              "; restore it from a backup");
      }
      ++expected;
    }
    writer_id_ =
        (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    if (segments.empty()) {
      finish_segment(create_segment_file(first_segment), first_segment, std::nullopt);
      return;
    }
    // Fence first. Once the next segment exists, an earlier owner (another
    // host on a shared filesystem, where flock may not hold) can get nothing
    // more acknowledged: it checks for this file after each write. What it
    // wrote before is below the end we measure after the fence.
    Fd fence;
    for (int attempt = 0;; ++attempt) {
      try {
        fence = create_segment_file(segments.rbegin()->first + 1);
        break;
      } catch (const LockedError&) {
        // The owner we are taking over from just started a segment: take
        // the journal from there.
        if (attempt == takeover_attempts_max) throw;
        std::map<std::uint64_t, fs::path> ignored;
        segments.clear();
        list_files(ignored, segments);
        segments.erase(segments.begin(), segments.lower_bound(first_segment));
      }
    }
    const std::uint64_t tail = segments.rbegin()->first;
    std::uint64_t tail_end = 0;
    for (auto it = segments.begin(); it != segments.end(); ++it) {
      const auto next = std::next(it);
      // A segment ends where its successor's start record says; without one
      // (the tail, or an owner that crashed while opening the next segment)
      // it ends at its last intact record.
      const std::optional<std::uint64_t> end =
          next == segments.end() ? std::nullopt : read_previous_end(next->second);
      tail_end = replay_segment(it->first, it->second, end, handler);
    }
    finish_segment(std::move(fence), tail + 1, tail_end);
  }

  void append(const EntryBatch& batch) override {
    if (failed_) {
      throw StorageFailedError("file storage at " + dir() +
                               " stopped after a failed write or a takeover; reopen it to recover");
    }
    record_.assign(record_header_bytes, '\0');
    encode_batch_record(record_, writer_id_, batch, 0, batch.size(), &compressor_);
    if (record_.size() - record_header_bytes > record_payload_bytes_max) {
      throw EventTooLargeError("a journal record of " +
                               std::to_string(record_.size() - record_header_bytes) +
                               " bytes exceeds the file format's limit for " + journal_path_);
    }
    frame_record(record_);

    int error = write_fully(*io_, journal_fd_.get(), record_, static_cast<off_t>(journal_size_));
    const char* step = "write";
    if (!error && options_.sync && io_->fdatasync(journal_fd_.get()) != 0) {
      error = errno;
      step = "sync";
    }
    if (error) {
      const std::string what = "cannot " + std::string(step) + " journal " + journal_path_ +
                               " at offset " + std::to_string(journal_size_) + ": " +
                               write_failure_text(error);
      // Cut off whatever part of the record reached the file, so the file
      // again ends with the last acknowledged record.
      if (io_->ftruncate(journal_fd_.get(), static_cast<off_t>(journal_size_)) != 0 ||
          (options_.sync && io_->fdatasync(journal_fd_.get()) != 0)) {
        failed_ = true;
        throw StorageFailedError(what + "; removing the partial record failed too (" +
                                 errno_text(errno) + "), so the storage stopped: reopen it");
      }
      throw StorageError(what);
    }
    journal_size_ += record_.size();
    ++records_in_segment_;
    if (::access(next_segment_path_.c_str(), F_OK) == 0) {
      failed_ = true;
      throw SupersededError(
          "another instance took over the journal in " + dir() + " (it created " +
          next_segment_path_ +
          "); this instance stopped and its last write is not acknowledged: the new owner "
          "decides whether it counts");
    }
    if (record_.capacity() > retained_buffer_bytes_max) std::string().swap(record_);
  }

  std::unique_ptr<SnapshotWriter> begin_snapshot() override {
    if (failed_) {
      throw StorageFailedError("file storage at " + dir() +
                               " stopped after a failed write; reopen it to recover");
    }
    // Nothing journaled in this segment yet: the state is the state at its
    // start, so the snapshot takes the segment's own id and no new segment
    // is needed (a snapshot at every open then costs no empty segment).
    if (records_in_segment_ > 0) {
      Fd next;
      try {
        next = create_segment_file(segment_ + 1);
      } catch (const LockedError& e) {
        failed_ = true;
        throw SupersededError(std::string(e.what()) + "; this instance stopped");
      }
      finish_segment(std::move(next), segment_ + 1, journal_size_);
    }
    std::function<void()> retain;
    if (options_.keep_snapshots > 0) {
      retain = [directory = options_.directory, keep = options_.keep_snapshots,
                warn = options_.warn] {
        try {
          prune_directory(directory, keep);
        } catch (const std::exception& e) {
          warn("retention: " + std::string(e.what()) + " (kept; the next snapshot tries again)");
        }
      };
    }
    std::optional<int> level;
    if (options_.compress_snapshots) level = options_.snapshot_compression_level;
    return std::make_unique<FileSnapshotWriter>(io_, dir_fd_.get(), options_.directory, segment_,
                                                level, std::move(retain));
  }

  void close() override {
    journal_fd_.reset();
    lock_fd_.reset();  // releases the flock
    dir_fd_.reset();
  }

  std::size_t entry_bytes_max() const override { return file_entry_bytes_max; }
  std::string describe() const override { return "file storage at " + dir(); }

 private:
  static constexpr std::size_t retained_buffer_bytes_max = std::size_t{64} << 20;
  static constexpr int takeover_attempts_max = 10;

  std::string dir() const { return options_.directory.string(); }

  void open_directory() {
    std::error_code ec;
    const auto status = fs::status(options_.directory, ec);
    if (!fs::exists(status)) {
      if (!options_.create_directory) {
        throw StorageError("directory " + dir() +
                           " does not exist; create it, or set create_directory");
      }
      fs::create_directories(options_.directory, ec);
      if (ec) {
        throw StorageError("cannot create directory " + dir() + ": " + ec.message() +
                           "; check the path and its permissions");
      }
    } else if (!fs::is_directory(status)) {
      throw StorageError(dir() + " is not a directory; choose another path");
    }
    dir_fd_ = Fd(::open(options_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd_) throw StorageError("cannot open directory " + dir() + ": " + errno_text(errno));
  }

  void lock_directory() {
    const fs::path lock_path = options_.directory / "LOCK";
    lock_fd_ = Fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!lock_fd_) {
      throw StorageError("cannot write in directory " + dir() + " (creating " + lock_path.string() +
                         ": " + errno_text(errno) + "); check its permissions");
    }
    if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char owner[32] = {};
      const ssize_t n = ::pread(lock_fd_.get(), owner, sizeof owner - 1, 0);
      lock_fd_.reset();
      if (error == EWOULDBLOCK) {
        throw LockedError("directory " + dir() + " is in use by another process" +
                          (n > 0 ? " (pid " + std::string(owner, static_cast<std::size_t>(n)) + ")"
                                 : std::string()) +
                          "; only one process may open it at a time");
      }
      throw StorageError("cannot lock " + lock_path.string() + ": " + errno_text(error));
    }
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(lock_fd_.get(), 0) != 0 || write_fully(*io_, lock_fd_.get(), pid, 0) != 0) {
      throw StorageError("cannot write in directory " + dir() + " (" + lock_path.string() +
                         "): " + write_failure_text(errno));
    }
  }

  void list_files(std::map<std::uint64_t, fs::path>& snapshots,
                  std::map<std::uint64_t, fs::path>& segments) {
    std::error_code ec;
    for (const auto& item : fs::directory_iterator(options_.directory, ec)) {
      const std::string name = item.path().filename().string();
      if (auto id = parse_numbered_name(name, "snapshot-", ".snap")) {
        snapshots[*id] = item.path();
      } else if (auto id = parse_numbered_name(name, "journal-", ".log")) {
        segments[*id] = item.path();
      } else if (parse_numbered_name(name, "snapshot-", ".snap.tmp") ||
                 parse_numbered_name(name, "journal-", ".log.tmp")) {
        // Left by a crash before its rename: never part of the state.
        fs::remove(item.path(), ec);
      }
    }
    if (ec) throw StorageError("cannot list directory " + dir() + ": " + ec.message());
  }

  static Fd open_for_read(const fs::path& path, std::uint64_t& size) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw StorageError("cannot open " + path.string() + ": " + errno_text(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      throw StorageError("cannot stat " + path.string() + ": " + errno_text(errno));
    }
    size = static_cast<std::uint64_t>(st.st_size);
    return fd;
  }

  void read_snapshot(std::uint64_t id, const fs::path& path, RecoveryHandler& handler) {
    std::uint64_t size = 0;
    Fd fd = open_for_read(path, size);
    const std::string name = path.string();
    if (size < snapshot_header_bytes + snapshot_trailer_bytes) {
      throw CorruptionError(name + ": snapshot file of " + std::to_string(size) +
                            " bytes is shorter than its header and trailer");
    }
    WindowReader reader(fd.get(), size, name);
    const SnapshotHeader header =
        check_snapshot_header(reader.view(0, snapshot_header_bytes), name);
    check_id(header.id, id, name, "snapshot");
    const std::uint64_t trailer_at = size - snapshot_trailer_bytes;
    const std::uint32_t stored_crc =
        check_snapshot_trailer(reader.view(trailer_at, snapshot_trailer_bytes),
                               trailer_at - snapshot_header_bytes, name, trailer_at);
    // Verify before decoding, so a damaged file never reaches the codec.
    std::uint32_t crc = 0;
    for (std::uint64_t at = snapshot_header_bytes; at < trailer_at;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(read_buffer_bytes, trailer_at - at));
      const std::string_view chunk = reader.view(at, n);
      crc = crc32c_extend(crc, chunk.data(), chunk.size());
      at += n;
    }
    if (crc != stored_crc) {
      throw CorruptionError(
          name + ": snapshot body (offsets " + std::to_string(snapshot_header_bytes) + " to " +
          std::to_string(trailer_at) + ") fails its checksum; restore the file from a backup");
    }
    SnapshotBodyBuffer body(reader, snapshot_header_bytes, trailer_at);
    if ((header.flags & snapshot_flag_zstd) == 0) {
      std::istream in(&body);
      handler.snapshot(id, in);
      return;
    }
    ZstdDecompressBuffer state(body, name);
    std::istream in(&state);
    handler.snapshot(id, in);
    state.finish();
  }

  // Replays one segment up to `end` (from its successor's start record) or,
  // without it, up to its last intact record, ignoring a torn tail with a
  // warning. Returns the offset after the last record replayed.
  std::uint64_t replay_segment(std::uint64_t id, const fs::path& path,
                               std::optional<std::uint64_t> end, RecoveryHandler& handler) {
    std::uint64_t file_size = 0;
    Fd fd = open_for_read(path, file_size);
    const std::string name = path.string();
    const bool open_ended = !end;
    if (file_size < segment_header_bytes) {
      // An owner crashed right after creating the file: nothing is in it.
      if (open_ended || *end <= file_size) return file_size;
      throw CorruptionError(name + ": journal file of " + std::to_string(file_size) +
                            " bytes is shorter than its header");
    }
    const std::uint64_t size = open_ended ? file_size : std::min(*end, file_size);
    WindowReader reader(fd.get(), size, name);
    check_id(check_container_header(reader.view(0, segment_header_bytes), segment_magic,
                                    segment_format_version, name, "journal segment"),
             id, name, "journal segment");
    if (!open_ended && file_size < *end) {
      throw CorruptionError(name + ": the journal continues at offset " + std::to_string(*end) +
                            " by the next segment's start, but the file has only " +
                            std::to_string(file_size) + " bytes; restore it from a backup");
    }
    std::uint64_t offset = segment_header_bytes;
    std::uint64_t record_number = 0;
    while (offset < size) {
      std::string_view payload;
      const RecordCheck check = check_record(reader, offset, payload);
      if (check != RecordCheck::ok) {
        if (open_ended && !valid_record_after(reader, offset)) {
          options_.warn(name + ": ignored a torn record at offset " + std::to_string(offset) +
                        " (" + std::to_string(size - offset) +
                        " bytes): a write interrupted by a crash, never acknowledged");
          break;
        }
        throw CorruptionError(
            name + " at offset " + std::to_string(offset) + ": journal record " +
            std::to_string(record_number + 1) +
            (check == RecordCheck::incomplete ? " extends past the end of the file"
                                              : " fails its checksum") +
            (open_ended ? ", and intact records follow it" : " in a segment that is not the last") +
            "; " + std::to_string(size - offset) +
            " bytes from there cannot be trusted. Restore the file from a backup.");
      }
      const std::string where = name + " at offset " + std::to_string(offset);
      // The entries are views into the reader's window (or, decompressed,
      // into the record), valid until its next read, which comes after they
      // are all handled.
      const DecodedRecord record = decode_record(payload, where);
      offset += record_header_bytes + payload.size();
      if (record.type == RecordType::segment_start) continue;
      if (record.type != RecordType::batch) {
        throw CorruptionError(where + ": a journal record of a type the file storage never writes");
      }
      ++record_number;
      for (std::uint32_t e = 0; e < record.entries.size(); ++e) {
        handler.entry(JournalPosition{id, record_number, e}, record.entries[e]);
      }
    }
    records_in_segment_ = record_number;
    return offset;
  }

  // Where the previous segment ends, from this segment's start record; none
  // when the record is missing (its writer crashed before writing it).
  std::optional<std::uint64_t> read_previous_end(const fs::path& path) {
    std::uint64_t size = 0;
    Fd fd = open_for_read(path, size);
    if (size < segment_header_bytes + record_header_bytes + record_payload_bytes_min) {
      return std::nullopt;
    }
    WindowReader reader(fd.get(), size, path.string());
    std::string_view payload;
    if (check_record(reader, segment_header_bytes, payload) != RecordCheck::ok) return std::nullopt;
    const DecodedRecord record = decode_record(payload, path.string());
    if (record.type != RecordType::segment_start) return std::nullopt;
    return record.previous_end;
  }

  // Frames the payload that follows record_header_bytes of `record`.
  static void frame_record(std::string& record) {
    const auto length = static_cast<std::uint32_t>(record.size() - record_header_bytes);
    for (int i = 0; i < 4; ++i) record[4 + i] = static_cast<char>(length >> (8 * i));
    const std::uint32_t crc = crc32c_mask(crc32c(std::string_view(record).substr(4)));
    for (int i = 0; i < 4; ++i) record[i] = static_cast<char>(crc >> (8 * i));
  }

  // Creates the segment file exclusively: the file's existence is the fence
  // that tells an earlier owner it was taken over. Writes its header.
  Fd create_segment_file(std::uint64_t id) {
    const fs::path path = options_.directory / segment_name(id);
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) {
      if (errno == EEXIST) {
        throw LockedError("another instance took over the journal in " + dir() +
                          " at the same time (it created " + path.string() + "); open it again");
      }
      throw StorageError("cannot create journal file " + path.string() + ": " + errno_text(errno));
    }
    const std::string header = make_container_header(segment_magic, segment_format_version, id);
    if (int error = write_fully(*io_, fd.get(), header, 0)) {
      ::unlink(path.c_str());  // ours: it must not stand as a fence
      throw StorageError("cannot create journal file " + path.string() + ": " +
                         write_failure_text(error));
    }
    return fd;
  }

  // Writes the segment's start record (where the previous segment ends),
  // syncs it and the directory, and makes it the append target.
  void finish_segment(Fd fd, std::uint64_t id, std::optional<std::uint64_t> previous_end) {
    const fs::path path = options_.directory / segment_name(id);
    std::uint64_t size = segment_header_bytes;
    int error = 0;
    if (previous_end) {
      std::string record(record_header_bytes, '\0');
      encode_segment_start_record(record, writer_id_, *previous_end);
      frame_record(record);
      error = write_fully(*io_, fd.get(), record, static_cast<off_t>(size));
      size += record.size();
    }
    if (!error && io_->fsync(fd.get()) != 0) error = errno;
    if (error) {
      ::unlink(path.c_str());  // ours: it must not stand as a fence
      throw StorageError("cannot write journal file " + path.string() + ": " +
                         write_failure_text(error));
    }
    sync_directory(*io_, dir_fd_.get(), dir());
    journal_fd_ = std::move(fd);
    journal_path_ = path.string();
    next_segment_path_ = (options_.directory / segment_name(id + 1)).string();
    journal_size_ = size;
    records_in_segment_ = 0;
    segment_ = id;
  }

  FileStorageOptions options_;
  std::shared_ptr<FileIo> io_;
  bool lock_;
  RecordCompressor compressor_;
  Fd dir_fd_;
  Fd lock_fd_;
  Fd journal_fd_;
  std::string journal_path_;
  std::string next_segment_path_;  // its existence means we were taken over
  std::uint64_t journal_size_ = 0;
  std::uint64_t segment_ = 0;
  std::uint64_t writer_id_ = 0;
  std::uint64_t records_in_segment_ = 0;  // of the segment appends go to
  bool failed_ = false;
  std::string record_;  // reused across appends
};

}  // namespace

std::unique_ptr<Storage> make_file_storage(FileStorageOptions options, std::shared_ptr<FileIo> io,
                                           bool lock_directory) {
  return std::make_unique<FileStorage>(std::move(options), std::move(io), lock_directory);
}

}  // namespace detail

std::unique_ptr<Storage> make_file_storage(FileStorageOptions options) {
  return detail::make_file_storage(std::move(options), detail::posix_file_io());
}

std::size_t prune_file_storage(const std::filesystem::path& directory,
                               std::uint32_t keep_snapshots) {
  return detail::prune_directory(directory, keep_snapshots);
}

}  // namespace prevayler
