// zstd-compressed journal records (type 5, docs/format.md): the codec, its
// damage checks, and the file storage writing, recovering and cutting off a
// torn compressed record.
#include <gtest/gtest.h>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <fstream>
#include <random>

#include "core/bytes.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "prevayler/error.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/compressible_text.hpp"
#include "support/file_bytes.hpp"
#include "support/string_log.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;
using detail::decode_record;
using detail::DecodedRecord;
using detail::encode_batch_record;
using detail::RecordCompressor;

std::string random_bytes(std::size_t bytes, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(bytes, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

EntryBatch batch_of(const std::vector<std::string>& entries) {
  EntryBatch batch;
  for (const auto& e : entries) batch.add(e);
  return batch;
}

std::string encode(const std::vector<std::string>& entries, RecordCompressor* compressor) {
  std::string out;
  const EntryBatch batch = batch_of(entries);
  encode_batch_record(out, 77, batch, 0, batch.size(), compressor);
  return out;
}

std::vector<std::string> entries_of(const DecodedRecord& record) {
  return std::vector<std::string>(record.entries.begin(), record.entries.end());
}

unsigned version_of(const std::string& record) { return static_cast<unsigned char>(record[0]); }
unsigned type_of(const std::string& record) { return static_cast<unsigned char>(record[1]); }

TEST(RecordCompression, LargeCompressibleBatchIsTypeFiveAndRoundTrips) {
  RecordCompressor compressor(4096, 1, "test");
  const std::vector<std::string> entries = {compressible_text(3000, 1), "small",
                                            compressible_text(70000, 2), ""};
  const std::string plain = encode(entries, nullptr);
  const std::string packed = encode(entries, &compressor);
  EXPECT_EQ(version_of(plain), 1u);
  EXPECT_EQ(type_of(plain), 1u);
  EXPECT_EQ(version_of(packed), 2u);
  EXPECT_EQ(type_of(packed), 5u);
  EXPECT_LT(packed.size() * 3, plain.size()) << "text should compress at least 3:1";
  // The writer id is where it is in every record.
  EXPECT_EQ(detail::get_u64(packed.data() + 2), 77u);

  const DecodedRecord record = decode_record(packed, "test");
  EXPECT_EQ(record.type, detail::RecordType::batch);
  EXPECT_TRUE(record.compressed);
  EXPECT_EQ(record.writer_id, 77u);
  EXPECT_EQ(entries_of(record), entries);
  EXPECT_FALSE(decode_record(plain, "test").compressed);
}

TEST(RecordCompression, DecodedEntriesSurviveMovingTheRecord) {
  RecordCompressor compressor(1, 1, "test");
  // The views point into the record's own buffer, which moves with it.
  const std::vector<std::string> longer = {std::string(400, 'a'), std::string(300, 'b')};
  std::string packed = encode(longer, &compressor);
  ASSERT_EQ(type_of(packed), 5u);
  DecodedRecord first = decode_record(packed, "test");
  std::vector<DecodedRecord> records;
  records.push_back(std::move(first));
  records.emplace_back(decode_record(packed, "test"));
  DecodedRecord moved = std::move(records[0]);
  packed.assign(packed.size(), '\0');  // nothing may point into the payload either
  EXPECT_EQ(entries_of(moved), longer);
  EXPECT_EQ(entries_of(records[1]), longer);
}

TEST(RecordCompression, IncompressibleBatchStaysTypeOne) {
  RecordCompressor compressor(4096, 1, "test");
  const std::vector<std::string> entries = {random_bytes(100000, 3)};
  const std::string packed = encode(entries, &compressor);
  EXPECT_EQ(packed, encode(entries, nullptr));
  EXPECT_EQ(type_of(packed), 1u);
}

// zstd is not made to read a large body to its end when its first 384 KiB
// do not compress (record_codec.cpp, incompressible_probe_bytes): such a
// body is stored as it is even if its rest would compress. A body whose
// incompressible part ends before the probe is judged on the whole.
TEST(RecordCompression, LargeBodyThatStartsIncompressibleIsStoredAsItIs) {
  RecordCompressor compressor(4096, 1, "test");
  const std::vector<std::string> random_then_zeros = {random_bytes(std::size_t{768} << 10, 11),
                                                      std::string(std::size_t{6} << 20, '\0')};
  EXPECT_EQ(type_of(encode(random_then_zeros, &compressor)), 1u)
      << "768 KiB of random bytes first: given up before the zeros";
  const std::vector<std::string> shorter_random_then_zeros = {
      random_bytes(std::size_t{256} << 10, 12), std::string(std::size_t{6} << 20, '\0')};
  const std::string packed = encode(shorter_random_then_zeros, &compressor);
  EXPECT_EQ(type_of(packed), 5u) << "256 KiB of random bytes first: the zeros count";
  EXPECT_EQ(entries_of(decode_record(packed, "test")), shorter_random_then_zeros);
  const std::vector<std::string> text = {compressible_text(std::size_t{3} << 20, 13)};
  EXPECT_EQ(type_of(encode(text, &compressor)), 5u);
}

TEST(RecordCompression, BatchBelowTheThresholdStaysTypeOne) {
  RecordCompressor compressor(4096, 1, "test");
  // Body: count (1) + length (2) + 4000 bytes = 4003 < 4096.
  const std::vector<std::string> below = {std::string(4000, 'z')};
  EXPECT_EQ(type_of(encode(below, &compressor)), 1u);
  // Body: count (1) + length (2) + 4093 bytes = 4096: compressed.
  const std::vector<std::string> at = {std::string(4093, 'z')};
  EXPECT_EQ(type_of(encode(at, &compressor)), 5u);
}

TEST(RecordCompression, ThresholdZeroNeverCompresses) {
  RecordCompressor compressor(0, 1, "test");
  EXPECT_FALSE(compressor.enabled());
  const std::vector<std::string> entries = {std::string(1 << 20, 'z')};
  EXPECT_EQ(type_of(encode(entries, &compressor)), 1u);
}

TEST(RecordCompression, LevelOutsideZstdsIsAConfigError) {
  EXPECT_THROW(RecordCompressor(4096, 42, "test"), ConfigError);
  EXPECT_NO_THROW(RecordCompressor(4096, -7, "test"));
  EXPECT_NO_THROW(RecordCompressor(4096, 19, "test"));
  FileStorageOptions options;
  options.common.journal_compression_level = 20;
  try {
    (void)make_file_storage(options);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("journal_compression_level 20"), std::string::npos)
        << e.what();
  }
}

TEST(RecordCompression, LevelsAllRoundTrip) {
  const std::vector<std::string> entries = {compressible_text(50000, 4),
                                            compressible_text(9000, 5)};
  for (int level : {-7, -1, 1, 3, 9, 19}) {
    RecordCompressor compressor(1, level, "test");
    const std::string packed = encode(entries, &compressor);
    ASSERT_EQ(type_of(packed), 5u) << "level " << level;
    EXPECT_EQ(entries_of(decode_record(packed, "test")), entries) << "level " << level;
  }
}

// Damage. The record's layout: version, type, writer id (10 bytes), the
// uncompressed length (varint), the zstd frame.
class DamagedRecord : public ::testing::Test {
 protected:
  const std::vector<std::string> entries = {compressible_text(20000, 6),
                                            compressible_text(5000, 7)};
  RecordCompressor compressor{1, 1, "test"};
  std::string packed = encode(entries, &compressor);
  std::size_t length_bytes = 0;
  std::uint64_t declared = 0;

  void SetUp() override {
    ASSERT_EQ(type_of(packed), 5u);
    std::string_view rest = std::string_view(packed).substr(10);
    const std::size_t before = rest.size();
    declared = *detail::get_varint(rest);
    length_bytes = before - rest.size();
  }
  std::string frame() const { return packed.substr(10 + length_bytes); }
  std::string with_length(std::uint64_t length, const std::string& frame) const {
    std::string out = packed.substr(0, 10);
    detail::put_varint(out, length);
    return out + frame;
  }
  // Decoding throws CorruptionError naming the place and `what`.
  void expect_corrupt(const std::string& record, const std::string& what) {
    try {
      (void)decode_record(record, "journal-7.log at offset 99");
      ADD_FAILURE() << "no CorruptionError for " << what;
    } catch (const CorruptionError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind("journal-7.log at offset 99: ", 0), 0u) << message;
      EXPECT_NE(message.find(what), std::string::npos) << message;
    }
  }
};

TEST_F(DamagedRecord, LyingUncompressedLengthIsCorruption) {
  expect_corrupt(with_length(declared + 1, frame()), "uncompressed length says");
  expect_corrupt(with_length(declared - 1, frame()), "uncompressed length says");
  expect_corrupt(with_length(0, frame()), "bad uncompressed length");
  expect_corrupt(with_length(std::uint64_t{1} << 40, frame()), "beyond the limit");
}

TEST_F(DamagedRecord, TruncatedOrExtendedFrameIsCorruption) {
  for (std::size_t cut : {std::size_t{1}, std::size_t{4}, frame().size() / 2}) {
    expect_corrupt(packed.substr(0, packed.size() - cut), "zstd frame");
  }
  expect_corrupt(packed + "x", "bytes after the zstd frame");
  expect_corrupt(packed.substr(0, 10 + length_bytes), "not a zstd frame");
}

TEST_F(DamagedRecord, CompressedBatchInAVersionOneRecordIsCorruption) {
  std::string record = packed;
  record[0] = 1;
  expect_corrupt(record, "compressed batch in a record of format version 1");
}

TEST_F(DamagedRecord, EveryFlippedByteOfTheFrameIsCaughtOrHarmless) {
  // zstd's own checksum of the content catches what the frame's structure
  // does not; a flip that changes nothing decoded (say, of the window size)
  // may pass.
  const std::size_t frame_begin = 10 + length_bytes;
  std::size_t caught = 0;
  for (std::size_t i = frame_begin; i < packed.size(); ++i) {
    std::string damaged = packed;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    try {
      EXPECT_EQ(entries_of(decode_record(damaged, "here")), entries) << "byte " << i;
    } catch (const CorruptionError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("here: ", 0), 0u) << e.what();
      ++caught;
    }
  }
  EXPECT_GT(caught, (packed.size() - frame_begin) * 9 / 10);
}

TEST(RecordCompression, FutureRecordVersionIsAFormatVersionError) {
  RecordCompressor compressor(1, 1, "test");
  std::string packed = encode({compressible_text(10000, 8)}, &compressor);
  packed[0] = 3;
  EXPECT_THROW((void)decode_record(packed, "here"), FormatVersionError);
}

// The file storage end to end.
using P = Prevayler<StringLog, std::string>;

class FileRecordCompressionTest : public ::testing::Test {
 protected:
  TempDir tmp;
  fs::path dir = tmp.path() / "data";
  std::vector<std::string> warnings;

  std::unique_ptr<P> open(std::size_t threshold = 4096) {
    FileStorageOptions storage;
    storage.directory = dir;
    storage.sync = false;
    storage.common.compress_journal_records_over = threshold;
    storage.common.warn = [this](const std::string& w) { warnings.push_back(w); };
    return open_string_log(make_file_storage(storage));
  }
  fs::path segment(int id) {
    char name[64];
    std::snprintf(name, sizeof name, "journal-%020d.log", id);
    return dir / name;
  }
};

TEST_F(FileRecordCompressionTest, LargeEventsRoundTripAndTheJournalIsSmaller) {
  std::vector<std::string> events;
  std::size_t raw = 0;
  for (unsigned i = 0; i < 20; ++i) {
    events.push_back(compressible_text(i % 2 ? 64 << 10 : 5000, i));
    raw += events.back().size();
  }
  events.push_back("small");
  {
    auto p = open();
    for (const auto& e : events) p->handle(e);
  }
  const std::string journal = read_all(segment(0));
  EXPECT_LT(journal.size() * 3, raw) << "text should compress at least 3:1";
  // The first record (the first event, alone in its group commit) is a
  // compressed batch.
  const std::size_t first = detail::segment_header_bytes + detail::record_header_bytes;
  EXPECT_EQ(static_cast<unsigned char>(journal[first]), 2u);
  EXPECT_EQ(static_cast<unsigned char>(journal[first + 1]), 5u);
  auto p = open();
  EXPECT_EQ(p->state()->items, events);
  EXPECT_EQ(p->stats().events_replayed, events.size());
}

TEST_F(FileRecordCompressionTest, UncompressedAndCompressedRecordsMix) {
  std::vector<std::string> events;
  {
    auto p = open(0);
    for (unsigned i = 0; i < 3; ++i) p->handle(events.emplace_back(compressible_text(20000, i)));
  }
  const std::size_t uncompressed = fs::file_size(segment(0));
  EXPECT_GT(uncompressed, 60000u);
  {
    auto p = open();
    for (unsigned i = 3; i < 6; ++i) p->handle(events.emplace_back(compressible_text(20000, i)));
  }
  EXPECT_LT(fs::file_size(segment(1)) * 3, uncompressed);
  auto p = open(0);
  EXPECT_EQ(p->state()->items, events);
}

TEST_F(FileRecordCompressionTest, TornCompressedRecordIsCutOffLikeAnyTornRecord) {
  std::vector<std::string> events;
  std::uintmax_t before_last = 0;
  {
    auto p = open();
    for (unsigned i = 0; i < 4; ++i) p->handle(events.emplace_back(compressible_text(30000, i)));
    p->handle(compressible_text(30000, 99));
  }
  const std::string journal = read_all(segment(0));
  before_last = record_offsets(journal).at(4);
  ASSERT_EQ(static_cast<unsigned char>(journal[before_last + detail::record_header_bytes + 1]), 5u);
  fs::resize_file(segment(0), before_last + (journal.size() - before_last) / 2);
  auto p = open();
  EXPECT_EQ(p->state()->items, events);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ignored a torn record at offset " + std::to_string(before_last)),
            std::string::npos)
      << warnings[0];
}

TEST_F(FileRecordCompressionTest, DamagedCompressedRecordBeforeAnIntactOneIsCorruption) {
  std::uintmax_t second = 0;
  {
    auto p = open();
    p->handle(compressible_text(30000, 1));
    p->handle(compressible_text(30000, 2));
    p->handle(compressible_text(30000, 3));  // the intact compressed record after the damage
  }
  std::string journal = read_all(segment(0));
  second = record_offsets(journal).at(1);
  const std::size_t damaged = second + detail::record_header_bytes + 40;
  journal[damaged] = static_cast<char>(journal[damaged] ^ 1);
  {
    std::ofstream out(segment(0), std::ios::binary | std::ios::trunc);
    out << journal;
  }
  try {
    auto p = open();
    FAIL() << "recovered from a damaged journal";
  } catch (const CorruptionError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("at offset " + std::to_string(second)), std::string::npos) << message;
    EXPECT_NE(message.find("intact records follow it"), std::string::npos) << message;
  }
}

// Entries handed over with room for their head (the engine's large
// events) are kept, not copied, and read back in order among copied ones.
TEST(EntryBatchChunks, HandedOverBuffersAndCopiedEntriesKeepTheirOrder) {
  constexpr std::size_t room = 8;
  const std::vector<std::string> tails = {random_bytes(300 << 10, 1), "s", random_bytes(5000, 2),
                                          random_bytes(200, 3), random_bytes(1 << 20, 4)};
  EntryBatch batch;
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < tails.size(); ++i) {
    const std::string head = "h" + std::to_string(i);
    std::string owned = std::string(room, '?') + tails[i];
    const char* buffer = owned.data();
    const bool large = tails[i].size() >= (std::size_t{64} << 10);
    batch.add(head, std::move(owned), room);
    expected.push_back(head + tails[i]);
    if (large) {
      EXPECT_EQ(batch[i].data(), buffer + room - head.size()) << "copied entry " << i;
    }
  }
  ASSERT_EQ(batch.size(), expected.size());
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(batch[i], expected[i]) << i;
    bytes += expected[i].size();
  }
  EXPECT_EQ(batch.bytes(), bytes);
  const EntryBatch copy = batch;  // a copy reads the same entries
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(copy[i], expected[i]) << i;
}

// A gathered record (the file storage's gather write) is, piece by piece,
// the record encode_batch_record builds, compressed or not.
TEST(RecordCompression, GatheredRecordIsTheRecordInPieces) {
  // Random bytes and small batches do not compress, text does.
  const std::vector<std::pair<std::vector<std::string>, bool>> batches = {
      {{random_bytes(100 << 10, 5), "small", random_bytes(70 << 10, 6)}, false},
      {{"a", compressible_text(200 << 10, 7), "b", compressible_text(80 << 10, 8)}, true},
      {{"only", "small", "ones"}, false}};
  for (std::size_t threshold : {std::size_t{0}, std::size_t{4096}}) {
    for (const auto& [entries, compresses] : batches) {
      RecordCompressor compressor(threshold, 1, "test");
      const EntryBatch batch = batch_of(entries);
      std::string out = "xx";  // records are appended after what is there
      std::vector<std::string_view> pieces;
      detail::encode_gathered_batch_record(out, pieces, 77, batch, &compressor);
      std::string gathered;
      for (std::string_view piece : pieces) gathered.append(piece);
      EXPECT_EQ(pieces.front().data(), out.data() + 2);
      const DecodedRecord record = decode_record(gathered, detail::Where("gathered"));
      EXPECT_EQ(entries_of(record), entries);
      EXPECT_EQ(record.compressed, threshold != 0 && compresses);
      EXPECT_EQ(gathered, encode(entries, threshold ? &compressor : nullptr));
    }
  }
}

}  // namespace
}  // namespace prevayler::testing
