// zstd-compressed snapshots on the file storage (format version 2), the
// streaming zstd buffers themselves, and old uncompressed (version 1)
// snapshots still being read.
#include <gtest/gtest.h>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <fstream>
#include <random>
#include <sstream>

#include "core/bytes.hpp"
#include "core/container_header.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "core/zstd_stream.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/compressible_text.hpp"
#include "support/expect_error.hpp"
#include "support/file_bytes.hpp"
#include "support/string_log.hpp"
#include "support/temp_dir.hpp"
#include "support/v1_snapshot.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;

using P = Prevayler<StringLog, std::string>;

class SnapshotCompressionTest : public ::testing::Test {
 protected:
  TempDir tmp;
  fs::path dir = tmp.path() / "data";

  std::unique_ptr<P> open(bool compress = true, int level = 1) {
    FileStorageOptions storage;
    storage.directory = dir;
    storage.sync = false;
    storage.common.compress_snapshots = compress;
    storage.common.snapshot_compression_level = level;
    storage.common.warn = [](const std::string&) {};
    return open_string_log(make_file_storage(storage));
  }
  fs::path snapshot_file(int id) {
    char name[64];
    std::snprintf(name, sizeof name, "snapshot-%020d.snap", id);
    return dir / name;
  }
  // The snapshot file with the highest id.
  fs::path latest_snapshot() {
    fs::path latest;
    for (const auto& item : fs::directory_iterator(dir)) {
      const std::string name = item.path().filename().string();
      if (name.ends_with(".snap") && (latest.empty() || item.path() > latest)) latest = item.path();
    }
    return latest;
  }
  // Events, then a snapshot; returns the state.
  StringLog fill(P& p, int events) {
    for (int i = 0; i < events; ++i) p.handle(compressible_words(2000, static_cast<unsigned>(i)));
    p.snapshot();
    return *p.state();
  }
  // Twenty events and a compressed snapshot, closed; sets `path` to the
  // snapshot file and returns its bytes.
  std::string snapshot_of_twenty_events(fs::path& path) {
    {
      auto p = open();
      fill(*p, 20);
    }
    path = latest_snapshot();
    return read_all(path);
  }
  // Opening must fail with a CorruptionError naming the file at `path` and
  // containing `word`.
  void expect_corruption(const fs::path& path, const std::string& word) {
    expect_error<CorruptionError>([&] { open(); }, "a damaged snapshot was accepted",
                                  {path.filename().string(), word});
  }
};

std::uint32_t header_version(const std::string& file) { return detail::get_u32(file.data() + 8); }
std::uint32_t header_flags(const std::string& file) { return detail::get_u32(file.data() + 12); }

TEST_F(SnapshotCompressionTest, CompressedSnapshotRoundTrips) {
  StringLog live;
  {
    auto p = open();
    live = fill(*p, 50);  // ~750 KB of text
  }
  const std::string file = read_all(latest_snapshot());
  EXPECT_EQ(file.substr(0, 8), "PVLSNAP1");
  EXPECT_EQ(header_version(file), 2u);
  EXPECT_EQ(header_flags(file), detail::snapshot_flag_zstd);
  std::size_t raw = 0;
  for (const auto& s : live.items) raw += s.size();
  EXPECT_LT(file.size() * 3, raw) << "text should compress at least 3:1";
  auto p = open();
  EXPECT_EQ(p->state()->items, live.items);
  EXPECT_EQ(p->stats().events_replayed, 0u);
}

TEST_F(SnapshotCompressionTest, UncompressedSnapshotIsVersionOneAndRoundTrips) {
  StringLog live;
  {
    auto p = open(false);
    live = fill(*p, 5);
  }
  const std::string file = read_all(latest_snapshot());
  EXPECT_EQ(header_version(file), 1u);
  EXPECT_EQ(header_flags(file), 0u);
  // Readable with compression on, and the other way round.
  {
    auto p = open(true);
    EXPECT_EQ(p->state()->items, live.items);
    p->handle("more");
    p->snapshot();
    live = *p->state();
  }
  auto p = open(false);
  EXPECT_EQ(p->state()->items, live.items);
}

TEST_F(SnapshotCompressionTest, OldFormatSnapshotStillLoads) {
  // A version-1 snapshot as builds before compression wrote it. The
  // directory has no journal yet, as after a restore.
  StringLog old;
  old.items = {"written", "by", "an", "old", "build", compressible_words(500, 7)};
  fs::create_directories(dir);
  write_all(snapshot_file(1), hand_made_v1_snapshot(old));
  {
    auto p = open();
    EXPECT_EQ(p->state()->items, old.items);
    p->handle("new");
  }
  auto p = open();
  old.items.push_back("new");
  EXPECT_EQ(p->state()->items, old.items);
}

TEST_F(SnapshotCompressionTest, CorruptCompressedBodyIsReportedWithTheFileName) {
  fs::path path;
  std::string file = snapshot_of_twenty_events(path);
  file.at(detail::snapshot_header_bytes + 40) ^= 0x5a;
  write_all(path, file);
  expect_corruption(path, "checksum");
}

TEST_F(SnapshotCompressionTest, DamageThatPassesTheCrcIsCaughtByTheDecoder) {
  // As if the compressor had produced bad bytes: the stored CRC matches
  // them, the zstd frame does not decode.
  fs::path path;
  std::string file = snapshot_of_twenty_events(path);
  const std::size_t body_end = file.size() - detail::snapshot_trailer_bytes;
  for (std::size_t i = detail::snapshot_header_bytes + 20; i < body_end; i += 997) file[i] ^= 0x5a;
  const std::string body =
      file.substr(detail::snapshot_header_bytes, body_end - detail::snapshot_header_bytes);
  std::string trailer;
  detail::put_u64(trailer, body.size());
  detail::put_u32(trailer, detail::crc32c_mask(detail::crc32c(body)));
  file.replace(body_end + 0, 12, trailer);
  write_all(path, file);
  expect_corruption(path, "zstd");
}

TEST_F(SnapshotCompressionTest, UnknownSnapshotFlagsAreAFormatVersionError) {
  {
    auto p = open();
    fill(*p, 1);
  }
  const fs::path path = latest_snapshot();
  std::string file = read_all(path);
  std::string header = file.substr(0, 12);
  detail::put_u32(header, 0x80 | detail::snapshot_flag_zstd);
  header.append(file, 16, 8);
  detail::put_u32(header, detail::crc32c_mask(detail::crc32c(header)));
  file.replace(0, detail::snapshot_header_bytes, header);
  write_all(path, file);
  EXPECT_THROW(open(), FormatVersionError);
}

TEST_F(SnapshotCompressionTest, CompressionLevelOutsideZstdsIsAConfigError) {
  EXPECT_THROW(open(true, 99), ConfigError);
}

// The streambufs on their own.

std::string compress(const std::string& data, std::size_t write_size, int level = 1) {
  std::stringbuf sink;
  detail::ZstdCompressBuffer z(sink, level, "test");
  std::ostream out(&z);
  for (std::size_t at = 0; at < data.size(); at += write_size) {
    out.write(data.data() + at,
              static_cast<std::streamsize>(std::min(write_size, data.size() - at)));
  }
  EXPECT_TRUE(z.finish());
  EXPECT_EQ(z.bytes_in(), data.size());
  return sink.str();
}

std::string decompress(const std::string& frame, const std::string& resource = "test") {
  std::stringbuf source(frame);
  detail::ZstdDecompressBuffer z(source, resource);
  std::istream in(&z);
  std::string out(std::istreambuf_iterator<char>(in), {});
  z.finish();
  return out;
}

TEST(ZstdStream, RoundTripsSmallAndLargeWrites) {
  std::string data = compressible_words(400'000, 3);  // ~3 MB, several zstd blocks and buffers
  std::mt19937 rng(5);
  for (std::size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<char>(rng());
  for (std::size_t write_size :
       {std::size_t{1}, std::size_t{7}, std::size_t{100'000}, std::size_t{1} << 20, data.size()}) {
    SCOPED_TRACE(write_size);
    const std::string frame = compress(data, write_size);
    EXPECT_LT(frame.size(), data.size());
    EXPECT_EQ(decompress(frame), data);
  }
}

TEST(ZstdStream, EmptyInputIsOneEmptyFrame) {
  const std::string frame = compress("", 1);
  EXPECT_FALSE(frame.empty());
  EXPECT_EQ(decompress(frame), "");
}

TEST(ZstdStream, TruncatedFrameIsCorruptionNamingTheResource) {
  const std::string frame = compress(compressible_words(10'000, 1), 1000);
  try {
    decompress(frame.substr(0, frame.size() - 5), "snapshot-x");
    FAIL();
  } catch (const CorruptionError& e) {
    EXPECT_NE(std::string(e.what()).find("snapshot-x"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decompress(""), CorruptionError);
}

TEST(ZstdStream, BytesAfterTheFrameAreCorruption) {
  const std::string frame = compress(compressible_words(10'000, 1), 1000);
  EXPECT_THROW(decompress(frame + "x"), CorruptionError);
}

TEST(ZstdStream, FinishVerifiesWhatTheReaderLeft) {
  std::string frame = compress(compressible_words(100'000, 2), 4096);
  frame[frame.size() - 2] ^= 0x01;  // inside zstd's content checksum
  std::stringbuf source(frame);
  detail::ZstdDecompressBuffer z(source, "test");
  std::istream in(&z);
  char first[10];
  in.read(first, sizeof first);  // a reader that stops early
  EXPECT_THROW(z.finish(), CorruptionError);
}

}  // namespace
}  // namespace prevayler::testing
