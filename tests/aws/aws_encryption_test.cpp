// Encryption at rest on the DynamoDB+S3 storage, against moto_server
// (docs/encryption.md): items and the S3 snapshot sealed with AES-256-GCM
// after compression (and before fragmenting), key rotation, wrong / missing
// keys and altered bytes as DecryptionError with no state, verify without
// the key, old unencrypted items read with encryption on.
#include <gtest/gtest.h>

#include "aws/aws_test_storage.hpp"
#include "core/bytes.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "ops/aws_journal.hpp"
#include "prevayler/prevayler.hpp"
#include "support/compressible_text.hpp"
#include "support/encryption_keys.hpp"
#include "support/expect_error.hpp"
#include "support/string_log.hpp"

namespace prevayler::testing {
namespace {

using P = Prevayler<StringLog, std::string>;

const std::string kSecret = "IBAN DE89 3704 0044 0532 0130 00";

unsigned type_of(const std::string& content) { return static_cast<unsigned char>(content[1]); }

struct EncryptedJournal : MotoJournal {
  std::unique_ptr<P> open_with(EncryptionOptions encryption, bool snapshot_on_open = true) const {
    AwsStorageOptions storage = options();
    storage.common.encryption = std::move(encryption);
    P::Options o;
    o.business = append_string;
    o.storage = detail::make_aws_storage(storage, nullptr);
    o.snapshot_on_open = snapshot_on_open;
    return std::make_unique<P>(std::move(o));
  }
  std::string snapshot_object() const { return s3().get_object(bucket, "snapshot").body; }
  void put_snapshot_object(const std::string& bytes) const {
    (void)s3().put_object(bucket, "snapshot", bytes);
  }
  // Replaces the item at (partkey, order) with `content`.
  void replace_item(std::uint64_t partkey, std::uint64_t order, const std::string& content) const {
    dynamodb().delete_items(table, partkey, {order});
    (void)dynamodb().put_item_if_absent(table, partkey, order, content);
  }
};

// Under key A: a small secret, a large compressible event fragmented after
// compression and encryption, a snapshot (s3), one more. Returns the state.
std::vector<std::string> fill_under_a(const EncryptedJournal& j) {
  auto p = j.open_with(test_encryption("A", {{"A", test_key('a')}}));
  p->handle(kSecret);
  p->handle(compressible_text(8 << 20, 5));
  p->snapshot();
  p->handle(kSecret + " again");
  return p->state()->items;
}

TEST(AwsEncryption, RoundTripAndKeyRotation) {
  EncryptedJournal j;
  std::vector<std::string> state = fill_under_a(j);
  // Segment 1: the small record (type 7), then fragments of an encrypted
  // record, then the seal; nothing in the clear.
  const auto items = all_items(j.table, 1);
  ASSERT_GE(items.size(), 4u);
  EXPECT_EQ(type_of(items[0].content), 7u);
  const detail::DecodedRecord fragment = detail::decode_record(items[1].content, "item 2");
  ASSERT_EQ(fragment.type, detail::RecordType::fragment);
  EXPECT_EQ(static_cast<unsigned char>(fragment.fragment_bytes[1]), 7u);
  for (const auto& item : items) EXPECT_EQ(item.content.find("IBAN"), std::string::npos);
  const std::string snapshot = j.snapshot_object();
  EXPECT_EQ(snapshot.find("IBAN"), std::string::npos);
  EXPECT_EQ(detail::get_u32(snapshot.data() + detail::header_flags_offset),
            detail::snapshot_flag_zstd | detail::snapshot_flag_encrypted);
  {
    auto p = j.open_with(test_encryption("B", {{"A", test_key('a')}, {"B", test_key('b')}}));
    EXPECT_EQ(p->state()->items, state);
    p->handle("under B");
    state.push_back("under B");
  }
  auto p = j.open_with(test_encryption("B", {{"A", test_key('a')}, {"B", test_key('b')}}));
  EXPECT_EQ(p->state()->items, state);
}

TEST(AwsEncryption, WrongOrMissingKeyIsAnErrorNamingKeyAndResource) {
  EncryptedJournal j;
  fill_under_a(j);
  expect_error<DecryptionError>(
      [&] {
        j.open_with(test_encryption("A", {{"A", test_key('x')}}));
      },
      "wrong key, snapshot",
      {"key id \"A\"", "s3://" + j.bucket + "/snapshot", "fails authentication"});
  expect_error<DecryptionError>([&] { j.open_with(test_encryption("", {})); }, "missing key",
                                {"key id \"A\"", "s3://" + j.bucket, "does not have"});
  expect_error<DecryptionError>([&] { j.open_with(EncryptionOptions{}); }, "no provider",
                                {"key id \"A\"", "no key provider is configured"});
  // A journal without a snapshot: its first item fails.
  EncryptedJournal fresh;
  fresh.open_with(test_encryption("A", {{"A", test_key('a')}}), false)->handle(kSecret);
  expect_error<DecryptionError>(
      [&] {
        fresh.open_with(test_encryption("A", {{"A", test_key('x')}}), false);
      },
      "wrong key, item",
      {"key id \"A\"", "table " + fresh.table + ", item (partkey 1, order 1)",
       "fails authentication"});
}

TEST(AwsEncryption, AlteredItemIsNeverDecoded) {
  EncryptedJournal j;
  {
    auto p = j.open_with(test_encryption("A", {{"A", test_key('a')}}));
    p->handle(kSecret);
    p->handle("second");
  }
  std::string content = all_items(j.table, 1)[0].content;
  content[content.size() - 20] ^= 0x01;
  j.replace_item(1, 1, content);
  expect_error<DecryptionError>(
      [&] {
        j.open_with(test_encryption("A", {{"A", test_key('a')}}));
      },
      "altered item", {"table " + j.table + ", item (partkey 1, order 1)", "fails authentication"});
  // Moved: the intact second item copied to order 1 does not open there.
  const std::string second = all_items(j.table, 1)[1].content;
  j.replace_item(1, 1, second);
  expect_error<DecryptionError>(
      [&] {
        j.open_with(test_encryption("A", {{"A", test_key('a')}}));
      },
      "moved item", {"item (partkey 1, order 1)", "fails authentication"});
}

TEST(AwsEncryption, VerifyWithoutTheKey) {
  EncryptedJournal j;
  fill_under_a(j);
  struct Count : ops::JournalVisitor {
    int entries = 0;
    void entry(const JournalPosition&, std::string_view) override { ++entries; }
  };
  {
    Count visitor;
    const auto problems = ops::make_aws_journal_source(j.options())->verify(visitor);
    EXPECT_TRUE(problems.empty()) << problems.front().message;
    EXPECT_EQ(visitor.entries, 0);
  }
  // A flipped byte of the snapshot's ciphertext: its CRC says so.
  std::string snapshot = j.snapshot_object();
  snapshot[detail::snapshot_header_bytes + 40] ^= 0x01;
  j.put_snapshot_object(snapshot);
  Count visitor;
  const auto problems = ops::make_aws_journal_source(j.options())->verify(visitor);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("checksum"), std::string::npos) << problems[0].message;
  // A recovery with the key reports it too, and takes no state.
  EXPECT_THROW(j.open_with(test_encryption("A", {{"A", test_key('a')}})), CorruptionError);
}

TEST(AwsEncryption, UnencryptedItemsStillReadWithEncryptionOn) {
  EncryptedJournal j;
  std::vector<std::string> state;
  {
    auto p = j.open_with(EncryptionOptions{});
    p->handle("plain 1");
    p->snapshot();
    p->handle("plain 2");
    state = p->state()->items;
  }
  {
    auto p = j.open_with(test_encryption("A", {{"A", test_key('a')}}));
    EXPECT_EQ(p->state()->items, state);
    p->handle(kSecret);
    state.push_back(kSecret);
  }
  auto p = j.open_with(test_encryption("A", {{"A", test_key('a')}}));
  EXPECT_EQ(p->state()->items, state);
}

}  // namespace
}  // namespace prevayler::testing
