// Encryption at rest on the file storage (docs/encryption.md): journal
// records (type 7) and snapshots (flag encrypted) sealed with AES-256-GCM
// after compression, key rotation, wrong / missing keys and tampered bytes
// as DecryptionError with no state, verify without the key, old
// unencrypted data read with encryption on; and the record and snapshot
// ciphers themselves (position binding, chunk truncation).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/bytes.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "core/record_cipher.hpp"
#include "core/record_codec.hpp"
#include "core/snapshot_cipher.hpp"
#include "ops/file_journal.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/compressible_text.hpp"
#include "support/encryption_keys.hpp"
#include "support/expect_error.hpp"
#include "support/file_bytes.hpp"
#include "support/string_log.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;
using P = Prevayler<StringLog, std::string>;

const std::string kSecret = "IBAN DE89 3704 0044 0532 0130 00";

// The offsets of the records (frames) of a segment file's bytes.
std::vector<std::size_t> frames(const std::string& segment) {
  std::vector<std::size_t> found;
  for (std::size_t at = detail::segment_header_bytes;
       at + detail::record_header_bytes <= segment.size();) {
    found.push_back(at);
    at += detail::record_header_bytes + detail::get_u32(segment.data() + at + 4);
  }
  return found;
}

// Rewrites the CRC of the frame at `at`, as someone who alters a record
// on purpose would: only the key can tell then.
void reseal_frame_crc(std::string& segment, std::size_t at) {
  const std::uint32_t n = detail::get_u32(segment.data() + at + 4);
  const std::uint32_t crc = detail::crc32c(std::string_view(segment).substr(at + 4, 4 + n));
  detail::set_u32(segment.data() + at, detail::crc32c_mask(crc));
}

class EncryptionTest : public ::testing::Test {
 protected:
  TempDir tmp;
  fs::path dir = tmp.path() / "data";

  std::unique_ptr<P> open(EncryptionOptions encryption) {
    FileStorageOptions storage;
    storage.directory = dir;
    storage.sync = false;
    storage.common.encryption = std::move(encryption);
    storage.common.warn = [](const std::string&) {};
    P::Options o;
    o.business = append_string;
    o.storage = make_file_storage(storage);
    // Snapshots only where a test takes them, so it knows under which key
    // each file was written.
    o.snapshot_on_open = false;
    return std::make_unique<P>(std::move(o));
  }
  fs::path file(const char* prefix, int id, const char* suffix) {
    char name[64];
    std::snprintf(name, sizeof name, "%s-%020d.%s", prefix, id, suffix);
    return dir / name;
  }
  fs::path segment(int id) { return file("journal", id, "log"); }
  fs::path snapshot(int id) { return file("snapshot", id, "snap"); }

  // Events under key A: a small one, a compressible large one (compressed,
  // then encrypted), a snapshot, and two more. Returns the state.
  std::vector<std::string> fill_under_a() {
    auto p = open(test_encryption("A", {{"A", test_key('a')}}));
    p->handle(kSecret);
    p->handle(compressible_text(64 << 10, 1));
    p->snapshot();
    p->handle(kSecret + " again");
    p->handle("last");
    return p->state()->items;
  }
};

TEST_F(EncryptionTest, RoundTripStoresNoPlaintext) {
  const std::vector<std::string> state = fill_under_a();
  auto p = open(test_encryption("A", {{"A", test_key('a')}}));
  EXPECT_EQ(p->state()->items, state);
  p.reset();
  for (const auto& item : fs::directory_iterator(dir)) {
    EXPECT_EQ(read_all(item.path()).find("IBAN"), std::string::npos) << item.path();
  }
  // Every batch record is type 7; the snapshot is flagged encrypted.
  const std::string first = read_all(segment(0));
  for (std::size_t at : frames(first)) {
    EXPECT_EQ(static_cast<unsigned char>(first[at + detail::record_header_bytes + 1]), 7u);
  }
  const std::string snap = read_all(snapshot(1));
  EXPECT_EQ(detail::get_u32(snap.data() + detail::header_flags_offset),
            detail::snapshot_flag_zstd | detail::snapshot_flag_encrypted);
}

TEST_F(EncryptionTest, KeyRotationKeepsOldDataReadable) {
  std::vector<std::string> state = fill_under_a();
  {
    // Rotated: new records and snapshots under B, A still known.
    auto p = open(test_encryption("B", {{"A", test_key('a')}, {"B", test_key('b')}}));
    EXPECT_EQ(p->state()->items, state);
    p->handle("under B");
    state.push_back("under B");
  }
  {
    auto p = open(test_encryption("B", {{"A", test_key('a')}, {"B", test_key('b')}}));
    EXPECT_EQ(p->state()->items, state);
  }
  // Segment 1 holds records under A, segment 2 (the rotated open's) under B.
  EXPECT_NE(read_all(segment(1))
                .find("\x01"
                      "A"),
            std::string::npos);
  EXPECT_NE(read_all(segment(2))
                .find("\x01"
                      "B"),
            std::string::npos);
  EXPECT_EQ(read_all(segment(2))
                .find("\x01"
                      "A"),
            std::string::npos);
  // A provider without A cannot read what A sealed.
  expect_error<DecryptionError>(
      [&] {
        open(test_encryption("B", {{"B", test_key('b')}}));
      },
      "key A is needed", {"key id \"A\"", "snapshot-00000000000000000001.snap"});
}

TEST_F(EncryptionTest, WrongKeyIsAnErrorNamingKeyAndFile) {
  fill_under_a();
  expect_error<DecryptionError>(
      [&] {
        open(test_encryption("A", {{"A", test_key('x')}}));
      },
      "a wrong key opened a snapshot",
      {"key id \"A\"", "snapshot-00000000000000000001.snap", "fails authentication"});
  // The journal alone (no snapshot): the first record fails.
  fs::remove(snapshot(1));
  fs::remove(segment(1));
  expect_error<DecryptionError>(
      [&] {
        open(test_encryption("A", {{"A", test_key('x')}}));
      },
      "a wrong key opened a record",
      {"key id \"A\"", "journal-00000000000000000000.log at offset 28", "fails authentication"});
}

TEST_F(EncryptionTest, MissingKeyIsAnError) {
  fill_under_a();
  expect_error<DecryptionError>([&] { open(test_encryption("", {})); }, "no key for A",
                                {"key id \"A\"", "does not have"});
  expect_error<DecryptionError>([&] { open(EncryptionOptions{}); }, "no provider",
                                {"key id \"A\"", "no key provider is configured"});
  EXPECT_THROW(open(EncryptionOptions{"A", nullptr}), ConfigError);
}

TEST_F(EncryptionTest, TamperedRecordIsNeverDecoded) {
  fill_under_a();
  fs::remove(snapshot(1));
  fs::remove(segment(1));
  std::string bytes = read_all(segment(0));
  const std::vector<std::size_t> at = frames(bytes);
  ASSERT_EQ(at.size(), 2u);
  // A ciphertext byte of the first record, its CRC made to match again.
  bytes[at[0] + detail::record_header_bytes + 40] ^= 0x01;
  reseal_frame_crc(bytes, at[0]);
  write_all(segment(0), bytes);
  expect_error<DecryptionError>(
      [&] {
        open(test_encryption("A", {{"A", test_key('a')}}));
      },
      "an altered record opened",
      {"journal-00000000000000000000.log at offset 28", "fails authentication"});
}

TEST_F(EncryptionTest, TamperedSnapshotIsNeverDecoded) {
  fill_under_a();
  std::string bytes = read_all(snapshot(1));
  const std::size_t trailer_at = bytes.size() - detail::snapshot_trailer_bytes;
  bytes[trailer_at - 5] ^= 0x01;  // in the final chunk's ciphertext or tag
  const std::uint32_t crc = detail::crc32c(std::string_view(bytes).substr(
      detail::snapshot_header_bytes, trailer_at - detail::snapshot_header_bytes));
  detail::set_u32(bytes.data() + trailer_at + detail::trailer_crc_offset, detail::crc32c_mask(crc));
  write_all(snapshot(1), bytes);
  expect_error<DecryptionError>(
      [&] {
        open(test_encryption("A", {{"A", test_key('a')}}));
      },
      "an altered snapshot opened",
      {"snapshot-00000000000000000001.snap", "key id \"A\"", "fails authentication"});
}

TEST_F(EncryptionTest, VerifyWithoutTheKeyChecksFramesAndCrcs) {
  fill_under_a();
  struct Count : ops::JournalVisitor {
    int entries = 0;
    void entry(const JournalPosition&, std::string_view) override { ++entries; }
  };
  {
    Count visitor;
    EXPECT_TRUE(ops::make_file_journal_source(dir.string())->verify(visitor).empty());
    EXPECT_EQ(visitor.entries, 0);  // nothing opened without the key
  }
  {
    // With the key, verify opens and checks the entries too.
    Count visitor;
    auto source = ops::make_file_journal_source(dir.string(), detail::posix_file_system(),
                                                test_encryption("", {{"A", test_key('a')}}));
    EXPECT_TRUE(source->verify(visitor).empty());
    EXPECT_EQ(visitor.entries, 4);  // segments 0 and 1: everything kept
  }
  // A flipped ciphertext byte in a record followed by another, and one in
  // the snapshot: both reported without the key.
  std::string bytes = read_all(segment(0));
  bytes[frames(bytes)[0] + detail::record_header_bytes + 40] ^= 0x01;
  write_all(segment(0), bytes);
  std::string snap = read_all(snapshot(1));
  snap[detail::snapshot_header_bytes + 30] ^= 0x01;
  write_all(snapshot(1), snap);
  Count visitor;
  const auto problems = ops::make_file_journal_source(dir.string())->verify(visitor);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].message.find("checksum"), std::string::npos) << problems[0].message;
  EXPECT_NE(problems[1].message.find("offset 28"), std::string::npos) << problems[1].message;
}

TEST_F(EncryptionTest, UnencryptedDataStillReadsWithEncryptionOn) {
  std::vector<std::string> state;
  {
    auto p = open(EncryptionOptions{});
    p->handle("plain 1");
    p->snapshot();
    p->handle("plain 2");
    state = p->state()->items;
  }
  {
    auto p = open(test_encryption("A", {{"A", test_key('a')}}));
    EXPECT_EQ(p->state()->items, state);
    p->handle(kSecret);
    state.push_back(kSecret);
  }
  auto p = open(test_encryption("A", {{"A", test_key('a')}}));
  EXPECT_EQ(p->state()->items, state);
  EXPECT_EQ(read_all(segment(1)).find("IBAN"), std::string::npos);
}

// ---- The ciphers themselves ----

TEST(RecordCipher, RecordIsBoundToItsPosition) {
  detail::KeyRing keys(test_encryption("A", {{"A", test_key('a')}}), "test");
  std::string record;
  EntryBatch batch;
  batch.add("one");
  batch.add("two");
  detail::encode_batch_record(record, 9, batch, 0, batch.size());
  detail::encrypt_record(record, 0, keys, detail::RecordPosition{3, 100});
  const detail::Decryption decryption{&keys, false};
  const auto decoded =
      detail::decode_record(record, "here", decryption, detail::RecordPosition{3, 100});
  ASSERT_EQ(decoded.entries.size(), 2u);
  EXPECT_EQ(decoded.entries[1], "two");
  EXPECT_EQ(decoded.writer_id, 9u);
  EXPECT_THROW(detail::decode_record(record, "here", decryption, detail::RecordPosition{3, 101}),
               DecryptionError);
  EXPECT_THROW(detail::decode_record(record, "here", decryption, detail::RecordPosition{4, 100}),
               DecryptionError);
  // Two encryptions of the same record never share a nonce.
  std::string again;
  detail::encode_batch_record(again, 9, batch, 0, batch.size());
  detail::encrypt_record(again, 0, keys, detail::RecordPosition{3, 100});
  EXPECT_NE(again, record);
  // Without the key: structure only, no entries.
  const auto checked = detail::decode_record(record, "here", detail::Decryption{nullptr, true}, {});
  EXPECT_TRUE(checked.encrypted);
  EXPECT_TRUE(checked.entries.empty());
}

std::string seal(const detail::KeyRing& keys, const std::string& header, const std::string& data) {
  std::stringbuf sink;
  detail::EncryptBuffer cipher(sink, keys, header);
  cipher.sputn(data.data(), static_cast<std::streamsize>(data.size()));
  EXPECT_TRUE(cipher.finish());
  return sink.str();
}

std::string open_sealed(const detail::KeyRing& keys, const std::string& header,
                        const std::string& sealed) {
  std::stringbuf source(sealed);
  detail::DecryptBuffer plain(source, &keys, header, "test object");
  std::istream in(&plain);
  in.exceptions(std::ios::badbit);
  std::string out(std::istreambuf_iterator<char>(in), {});
  plain.finish();
  return out;
}

TEST(SnapshotCipher, ChunksRoundTripAndCannotBeCutOrMoved) {
  detail::KeyRing keys(test_encryption("A", {{"A", test_key('a')}}), "test");
  const std::string header(detail::snapshot_header_bytes, 'h');
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, detail::snapshot_cipher_chunk_bytes,
                           3 * detail::snapshot_cipher_chunk_bytes + 17}) {
    const std::string data = compressible_text(size, 3);
    const std::string sealed = seal(keys, header, data);
    EXPECT_EQ(open_sealed(keys, header, sealed), data) << size;
    std::stringbuf check(sealed);
    EXPECT_EQ(detail::check_sealed_body(check, "test"), "A");
  }
  const std::string data = compressible_text(3 * detail::snapshot_cipher_chunk_bytes + 17, 4);
  const std::string sealed = seal(keys, header, data);
  // Another snapshot's header (its id): not this snapshot's chunks.
  EXPECT_THROW(open_sealed(keys, std::string(detail::snapshot_header_bytes, 'H'), sealed),
               DecryptionError);
  // Cut after two whole chunks: the last one left was not written final.
  const std::size_t head = 2 + 12;
  const std::size_t chunk = detail::snapshot_cipher_chunk_bytes + detail::gcm_tag_bytes;
  EXPECT_THROW(open_sealed(keys, header, sealed.substr(0, head + 2 * chunk)), DecryptionError);
  // Chunks swapped.
  std::string swapped = sealed;
  swapped.replace(head, chunk, sealed.substr(head + chunk, chunk));
  swapped.replace(head + chunk, chunk, sealed.substr(head, chunk));
  EXPECT_THROW(open_sealed(keys, header, swapped), DecryptionError);
}

}  // namespace
}  // namespace prevayler::testing
