#include "file/snapshot_files.hpp"

#include <algorithm>
#include <istream>
#include <ostream>
#include <streambuf>

#include "core/container_header.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "core/snapshot_cipher.hpp"
#include "core/zstd_stream.hpp"
#include "file/naming.hpp"
#include "file/record_reader.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

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
  SnapshotFileBuffer(FileSystem& fs, int fd, std::string path, std::uint64_t offset)
      : fs_(fs), fd_(fd), path_(std::move(path)), offset_(offset) {
    buffer_.resize(read_buffer_bytes);
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  std::uint64_t body_bytes() const { return body_bytes_; }
  std::uint32_t body_crc() const { return crc_; }
  std::uint64_t offset() const { return offset_; }
  void flush_all() {
    if (!flush_buffer()) {
      throw StorageError("cannot write snapshot " + path_ + " at offset " +
                         std::to_string(offset_) + ": " + write_failure_text(error_));
    }
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
    error_ = write_fully(fs_, fd_, data, offset_);
    if (error_) return false;
    offset_ += data.size();
    body_bytes_ += data.size();
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return true;
  }

  FileSystem& fs_;
  int fd_;
  std::string path_;
  std::uint64_t offset_;
  std::uint64_t body_bytes_ = 0;
  std::uint32_t crc_ = 0;
  int error_ = 0;
  std::string buffer_;
};

class FileSnapshotWriter : public SnapshotWriter {
 public:
  FileSnapshotWriter(Directory& dir, std::uint64_t id, std::optional<int> compression_level,
                     const KeyRing* keys, std::uint32_t state_schema_version,
                     std::function<void()> on_committed)
      : on_committed_(std::move(on_committed)),
        dir_(dir),
        id_(id),
        final_path_(dir.file(snapshot_name(id))),
        temp_path_(dir.file(snapshot_name(id) + ".tmp")) {
    if (int error = open_file(dir_.fs(), temp_path_, OpenMode::create_or_truncate, fd_)) {
      throw StorageError("cannot create snapshot file " + temp_path_ + ": " +
                         write_failure_text(error));
    }
    const std::uint32_t flags =
        (compression_level ? snapshot_flag_zstd : 0) | (keys ? snapshot_flag_encrypted : 0);
    const std::string header = make_snapshot_header(id, flags, state_schema_version);
    if (int error = write_fully(dir_.fs(), fd_.get(), header, 0)) {
      fd_.reset();
      dir_.fs().unlink(temp_path_);  // no destructor runs for a throwing constructor
      throw StorageError("cannot write snapshot " + temp_path_ + ": " + write_failure_text(error));
    }
    buffer_.emplace(dir_.fs(), fd_.get(), temp_path_, header.size());
    // state -> zstd -> AES-GCM -> file: encryption after compression.
    std::streambuf* sink = &*buffer_;
    if (keys) sink = &cipher_.emplace(*sink, *keys, header);
    if (compression_level) sink = &zstd_.emplace(*sink, *compression_level, temp_path_);
    stream_.rdbuf(sink);
    stream_.exceptions(std::ios::badbit);
  }

  ~FileSnapshotWriter() override {
    if (!committed_) {
      fd_.reset();
      dir_.fs().unlink(temp_path_);
    }
  }

  std::uint64_t snapshot_id() const override { return id_; }
  std::ostream& stream() override { return stream_; }

  void commit() override {
    if ((zstd_ && !zstd_->finish()) || (cipher_ && !cipher_->finish())) {
      buffer_->flush_all();  // throws the write error that stopped the compressor
      throw StorageError("cannot write snapshot " + temp_path_);
    }
    buffer_->flush_all();
    const std::string trailer = make_snapshot_trailer(buffer_->body_bytes(), buffer_->body_crc());
    if (int error = write_fully(dir_.fs(), fd_.get(), trailer, buffer_->offset())) {
      throw StorageError("cannot write snapshot " + temp_path_ + ": " + write_failure_text(error));
    }
    // Synced before the rename: the name must never stand for a file whose
    // content a power loss could take.
    if (int error = dir_.fs().fsync(fd_.get())) {
      throw StorageError("cannot sync snapshot " + temp_path_ + ": " + errno_text(error));
    }
    fd_.reset();
    if (int error = dir_.fs().rename(temp_path_, final_path_)) {
      throw StorageError("cannot rename " + temp_path_ + " to " + final_path_ + ": " +
                         errno_text(error));
    }
    committed_ = true;
    // Retention deletes what only older snapshots need: only once the
    // rename is durable.
    dir_.sync();
    if (on_committed_) on_committed_();
  }

 private:
  std::function<void()> on_committed_;
  Directory& dir_;
  std::uint64_t id_;
  std::string final_path_;
  std::string temp_path_;
  File fd_;
  std::optional<SnapshotFileBuffer> buffer_;
  std::optional<EncryptBuffer> cipher_;
  std::optional<ZstdCompressBuffer> zstd_;
  std::ostream stream_{nullptr};
  bool committed_ = false;
};

// Checks the whole stored body against the trailer's CRC.
void verify_body(WindowReader& reader, std::uint64_t trailer_at, std::uint32_t stored_crc) {
  std::uint32_t crc = 0;
  for (std::uint64_t at = snapshot_header_bytes; at < trailer_at;) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(read_buffer_bytes, trailer_at - at));
    const std::string_view chunk = reader.view(at, n);
    crc = crc32c_extend(crc, chunk.data(), chunk.size());
    at += n;
  }
  if (crc != stored_crc) {
    throw CorruptionError(reader.path() + ": snapshot body (offsets " +
                          std::to_string(snapshot_header_bytes) + " to " +
                          std::to_string(trailer_at) +
                          ") fails its checksum; restore the file from a backup");
  }
}

}  // namespace

std::unique_ptr<SnapshotWriter> make_snapshot_writer(Directory& directory, std::uint64_t id,
                                                     std::optional<int> compression_level,
                                                     const KeyRing* keys,
                                                     std::uint32_t state_schema_version,
                                                     std::function<void()> on_committed) {
  return std::make_unique<FileSnapshotWriter>(directory, id, compression_level, keys,
                                              state_schema_version, std::move(on_committed));
}

void check_id(std::uint64_t found, std::uint64_t expected, const std::string& path,
              const char* what) {
  if (found != expected) {
    throw CorruptionError(path + ": header says " + what + " " + std::to_string(found) +
                          " but the file name says " + std::to_string(expected));
  }
}

void read_snapshot(FileSystem& fs, std::uint64_t id, const std::string& path,
                   RecoveryHandler& handler, const Decryption& decryption) {
  std::uint64_t size = 0;
  File fd = open_for_read(fs, path, size);
  if (size < snapshot_header_bytes + snapshot_trailer_bytes) {
    throw CorruptionError(path + ": snapshot file of " + std::to_string(size) +
                          " bytes is shorter than its header and trailer");
  }
  WindowReader reader(fs, fd.get(), size, path);
  const std::string header_bytes(reader.view(0, snapshot_header_bytes));
  const SnapshotHeader header = check_snapshot_header(header_bytes, path);
  check_id(header.id, id, path, "snapshot");
  const std::uint64_t trailer_at = size - snapshot_trailer_bytes;
  const std::uint32_t stored_crc =
      check_snapshot_trailer(reader.view(trailer_at, snapshot_trailer_bytes),
                             trailer_at - snapshot_header_bytes, path, trailer_at);
  verify_body(reader, trailer_at, stored_crc);  // before decoding: damage never reaches the codec
  SnapshotBodyBuffer body(reader, snapshot_header_bytes, trailer_at);
  const bool encrypted = (header.flags & snapshot_flag_encrypted) != 0;
  if (encrypted && decryption.check_only) {
    (void)check_sealed_body(body, path);
    return;
  }
  // file -> AES-GCM -> zstd -> state, as written.
  std::optional<DecryptBuffer> plain;
  std::streambuf* source = &body;
  if (encrypted) source = &plain.emplace(body, decryption.keys, header_bytes, path);
  std::optional<ZstdDecompressBuffer> state;
  if (header.flags & snapshot_flag_zstd) source = &state.emplace(*source, path);
  std::istream in(source);
  // A chunk that fails authentication reaches the caller as itself, not as
  // an end of stream the codec would misread.
  if (encrypted) in.exceptions(std::ios::badbit);
  handler.versioned_snapshot(id, in, header.state_schema_version);
  if (state) state->finish();
  if (plain) plain->finish();
}

}  // namespace prevayler::detail
