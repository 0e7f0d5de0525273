// Streaming zstd compression as std::streambuf wrappers, for snapshot bodies
// (docs/format.md). Both hold a bounded amount of memory whatever the size
// of the data: their buffers plus zstd's context (a few MiB at the levels we
// use), never the whole stream.
//
// Thread-safety: none; one thread uses a buffer at a time, like any
// std::streambuf.
#pragma once

#include <cstdint>
#include <memory>
#include <streambuf>
#include <string>

namespace prevayler::detail {

// zstd levels accepted by ZstdCompressBuffer (negative levels are zstd's
// "fast" levels).
inline constexpr int zstd_level_min = -7;
inline constexpr int zstd_level_max = 19;

// Throws ConfigError "<owner>: <option> <level> is outside zstd's levels
// ..." unless zstd_level_min <= level <= zstd_level_max.
void check_zstd_level(int level, const std::string& option, const std::string& owner);

// Compresses what is written to it into one zstd frame written to `sink`.
// Call finish() once everything is written; the frame is incomplete before.
// Errors of zstd throw CodecError naming `resource`; a failing sink makes
// overflow() return eof (the ostream then sets badbit) and finish() return
// false, so the sink can report its own error.
class ZstdCompressBuffer : public std::streambuf {
 public:
  // REQUIRES: zstd_level_min <= level <= zstd_level_max; `sink` outlives this.
  ZstdCompressBuffer(std::streambuf& sink, int level, std::string resource);
  ~ZstdCompressBuffer() override;
  ZstdCompressBuffer(const ZstdCompressBuffer&) = delete;
  ZstdCompressBuffer& operator=(const ZstdCompressBuffer&) = delete;

  // Ends the frame and writes it out to the sink (not synced or flushed
  // beyond sputn). Returns false when the sink refused bytes.
  bool finish();
  std::uint64_t bytes_in() const noexcept { return bytes_in_; }
  std::uint64_t bytes_out() const noexcept { return bytes_out_; }

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  struct Context;
  // Compresses [data, data + size) with `mode` (a ZSTD_EndDirective) and
  // writes what zstd produces to the sink. False when the sink failed.
  bool compress(const char* data, std::size_t size, int mode);
  bool drain_put_area();

  std::streambuf& sink_;
  std::string resource_;
  std::unique_ptr<Context> context_;
  std::string in_;
  std::string out_;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  bool sink_failed_ = false;
  bool finished_ = false;
};

// Decompresses one zstd frame pulled from `source`. Damage (a frame that
// does not decode, fails zstd's content checksum, ends early, or is followed
// by more bytes) throws CorruptionError naming `resource`.
class ZstdDecompressBuffer : public std::streambuf {
 public:
  // REQUIRES: `source` outlives this.
  ZstdDecompressBuffer(std::streambuf& source, std::string resource);
  ~ZstdDecompressBuffer() override;
  ZstdDecompressBuffer(const ZstdDecompressBuffer&) = delete;
  ZstdDecompressBuffer& operator=(const ZstdDecompressBuffer&) = delete;

  // Decompresses whatever the reader did not consume, so that the whole
  // frame, its checksum included, is verified, and checks that the source
  // holds nothing after it.
  void finish();

 protected:
  int_type underflow() override;

 private:
  struct Context;
  // Reads more input from the source; false at its end.
  bool refill();

  std::streambuf& source_;
  std::string resource_;
  std::unique_ptr<Context> context_;
  std::string in_;
  std::size_t in_pos_ = 0;
  std::size_t in_end_ = 0;
  std::string out_;
  bool frame_done_ = false;
};

}  // namespace prevayler::detail
