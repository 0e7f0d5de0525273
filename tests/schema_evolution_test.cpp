// Schema versions on the file storage's bytes (docs/format.md): what is
// written at version 1 is what builds before schema versions wrote, files
// those builds wrote still read (a checked-in fixture), and cereal's own
// class versioning works through the default codec.
#include <gtest/gtest.h>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/formats.hpp"
#include "prevayler/prevayler.hpp"
#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"

// cereal's class versions: release 1 of an event type already had a
// versioned serialize (version 0, the default); release 2 adds a field.
namespace cereal_versions_v1 {
struct Item {
  std::string name;
  template <class A>
  void serialize(A& a, std::uint32_t const /*version*/) {
    a(name);
  }
};
struct Inventory {
  std::vector<Item> items;
  template <class A>
  void serialize(A& a) {
    a(items);
  }
};
}  // namespace cereal_versions_v1

namespace cereal_versions_v2 {
struct Item {
  std::string name;
  long quantity = 1;  // new in class version 1; older items had one
  template <class A>
  void serialize(A& a, std::uint32_t const version) {
    a(name);
    if (version >= 1) a(quantity);
  }
};
struct Inventory {
  std::vector<Item> items;
  template <class A>
  void serialize(A& a) {
    a(items);
  }
};
}  // namespace cereal_versions_v2
CEREAL_CLASS_VERSION(cereal_versions_v2::Item, 1)

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;

// The fixture's types: tests/fixtures/pre_schema_versions was written by
// main before schema versions (commit 223da38) with this state, `long`
// events 10, 20, 30, a snapshot, then 40 and 50, timestamps from
// 1'700'000'000'000 ms, and this state hash.
struct Ledger {
  std::vector<long> amounts;
  template <class A>
  void serialize(A& a) {
    a(amounts);
  }
};
std::uint64_t ledger_hash(const Ledger& ledger) {
  std::uint64_t h = 0;
  for (long a : ledger.amounts) h = h * 31 + static_cast<std::uint64_t>(a);
  return h;
}
Ledger append(const Ledger& ledger, long amount, Timestamp) {
  Ledger next = ledger;
  next.amounts.push_back(amount);
  return next;
}

std::unique_ptr<Storage> file_storage(const fs::path& directory) {
  FileStorageOptions options;
  options.directory = directory;
  return make_file_storage(options);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The first entry's kind byte of segment 0 written by one event: the
// segment header, the record frame, version, type, writer id, a one-byte
// entry count and a one-byte entry length come first.
constexpr std::size_t first_entry_kind_offset =
    detail::segment_header_bytes + detail::record_header_bytes + 1 + 1 + 8 + 1 + 1;

struct Written {
  std::string journal;
  std::string snapshot;
};

// One event and one snapshot at the given schema versions.
Written write_one(std::uint32_t event_version, std::uint32_t state_version, bool compress) {
  TempDir dir;
  Prevayler<Ledger, long>::Options o;
  o.business = append;
  FileStorageOptions storage;
  storage.directory = dir.path();
  storage.common.compress_snapshots = compress;
  o.storage = make_file_storage(storage);
  o.snapshot_on_open = false;
  o.event_schema_version = event_version;
  o.state_schema_version = state_version;
  Prevayler<Ledger, long> p(std::move(o));
  p.handle(7);
  p.snapshot();
  p.close();
  return Written{read_file(dir.path() / "journal-00000000000000000000.log"),
                 read_file(dir.path() / "snapshot-00000000000000000001.snap")};
}

std::uint32_t header_u32(const std::string& file, std::size_t offset) {
  return detail::get_u32(file.data() + offset);
}

TEST(SchemaVersionBytes, VersionOneWritesWhatBuildsBeforeSchemaVersionsWrote) {
  const Written plain = write_one(1, 1, /*compress=*/false);
  EXPECT_EQ(plain.journal[first_entry_kind_offset], 1) << "entry kind 1: event, no version";
  EXPECT_EQ(header_u32(plain.snapshot, detail::header_version_offset), 1u);
  EXPECT_EQ(header_u32(plain.snapshot, detail::header_flags_offset), 0u);
  const Written compressed = write_one(1, 1, /*compress=*/true);
  EXPECT_EQ(header_u32(compressed.snapshot, detail::header_version_offset), 2u);
  EXPECT_EQ(header_u32(compressed.snapshot, detail::header_flags_offset), 1u);
}

TEST(SchemaVersionBytes, OtherVersionsAreRecordedInTheEntryAndTheSnapshotFlags) {
  const Written plain = write_one(3, 4, /*compress=*/false);
  const std::size_t kind = first_entry_kind_offset;
  EXPECT_EQ(plain.journal[kind], 3) << "entry kind 3: event with schema version";
  // kind, timestamp (8), then the version as two little-endian bytes
  EXPECT_EQ(plain.journal[kind + 9], 3);
  EXPECT_EQ(plain.journal[kind + 10], 0);
  EXPECT_EQ(header_u32(plain.snapshot, detail::header_version_offset), 2u);
  EXPECT_EQ(header_u32(plain.snapshot, detail::header_flags_offset), 4u << 16);
  const Written compressed = write_one(3, 4, /*compress=*/true);
  EXPECT_EQ(header_u32(compressed.snapshot, detail::header_flags_offset), (4u << 16) | 1u);
}

// Opens a copy of the fixture written by main before schema versions.
class PreSchemaFixture : public ::testing::Test {
 protected:
  PreSchemaFixture() {
    fs::copy(fs::path(PREVAYLER_SOURCE_DIR) / "tests/fixtures/pre_schema_versions",
             dir_.path() / "data");
  }
  Prevayler<Ledger, long>::Options options() {
    Prevayler<Ledger, long>::Options o;
    o.business = append;
    o.state_hash = ledger_hash;  // the fixture's entries carry hashes (kind 2)
    o.storage = file_storage(dir_.path() / "data");
    return o;
  }
  TempDir dir_;
};

TEST_F(PreSchemaFixture, ReadsAsSchemaVersionOne) {
  auto o = options();
  std::vector<std::uint32_t> event_versions;
  std::vector<std::uint32_t> state_versions;
  o.event_schema_version = 2;
  o.state_schema_version = 2;
  o.event_codec = cereal_codec<long>();
  o.event_codec.decode_versioned = [&](std::istream& in, std::uint32_t version) {
    event_versions.push_back(version);
    return cereal_decode<long>(in);
  };
  o.state_codec = cereal_codec<Ledger>();
  o.state_codec.decode_versioned = [&](std::istream& in, std::uint32_t version) {
    state_versions.push_back(version);
    return cereal_decode<Ledger>(in);
  };
  Prevayler<Ledger, long> p(std::move(o));
  EXPECT_EQ(p.state()->amounts, (std::vector<long>{10, 20, 30, 40, 50}));
  EXPECT_EQ(state_versions, std::vector<std::uint32_t>{1});
  EXPECT_EQ(event_versions, (std::vector<std::uint32_t>{1, 1}));
}

TEST_F(PreSchemaFixture, ReadsWithTheCodecsOfBefore) {
  Prevayler<Ledger, long> p(options());
  EXPECT_EQ(p.state()->amounts, (std::vector<long>{10, 20, 30, 40, 50}));
  EXPECT_EQ(p.stats().events_replayed, 2u);
}

TEST(SchemaVersionOptions, OutOfRangeVersionsAreConfigErrors) {
  TempDir dir;
  const auto open = [&](std::uint32_t event, std::uint32_t state, std::uint32_t event_min) {
    Prevayler<Ledger, long>::Options o;
    o.business = append;
    o.storage = file_storage(dir.path());
    o.event_schema_version = event;
    o.state_schema_version = state;
    o.event_schema_version_min = event_min;
    Prevayler<Ledger, long> p(std::move(o));
  };
  expect_error<ConfigError>([&] { open(0, 1, 1); }, "version 0", {"event_schema_version", "0"});
  expect_error<ConfigError>([&] { open(1, schema_version_max + 1, 1); }, "too large",
                            {"state_schema_version", "65536", "1 to 65535"});
  expect_error<ConfigError>([&] { open(2, 1, 3); }, "min above current",
                            {"event_schema_version_min", "(3)", "(2)"});
}

// A storage that records no schema version refuses one other than 1
// instead of losing it.
TEST(SchemaVersionOptions, AStorageWithoutVersionsRefusesAStateVersionOtherThanOne) {
  class Unversioned : public Storage {
   public:
    explicit Unversioned(std::unique_ptr<Storage> inner) : inner_(std::move(inner)) {}
    void recover(RecoveryHandler& handler) override { inner_->recover(handler); }
    void append(const EntryBatch& batch) override { inner_->append(batch); }
    std::unique_ptr<SnapshotWriter> begin_snapshot() override { return inner_->begin_snapshot(); }
    void close() override { inner_->close(); }
    std::size_t entry_bytes_max() const override { return inner_->entry_bytes_max(); }
    std::string describe() const override { return "unversioned storage"; }

   private:
    std::unique_ptr<Storage> inner_;
  };
  TempDir dir;
  Prevayler<Ledger, long>::Options o;
  o.business = append;
  o.storage = std::make_unique<Unversioned>(file_storage(dir.path()));
  o.state_schema_version = 2;
  o.snapshot_on_open = false;
  Prevayler<Ledger, long> p(std::move(o));
  expect_error<ConfigError>(
      [&] { p.snapshot(); }, "the version would be lost",
      {"unversioned storage", "state schema version 2", "begin_versioned_snapshot"});
}

// The common case needs no schema version: cereal's class version of Item
// goes with every encoded Item, through the default codecs.
TEST(CerealClassVersions, AFieldAddedReadsOldEventsAndSnapshotsWithItsDefault) {
  TempDir dir;
  const auto storage = [&] { return file_storage(dir.path()); };
  {
    Prevayler<cereal_versions_v1::Inventory, cereal_versions_v1::Item>::Options o;
    o.business = [](const cereal_versions_v1::Inventory& inventory,
                    const cereal_versions_v1::Item& item, Timestamp) {
      auto next = inventory;
      next.items.push_back(item);
      return next;
    };
    o.storage = storage();
    o.snapshot_on_open = false;
    Prevayler<cereal_versions_v1::Inventory, cereal_versions_v1::Item> v1(std::move(o));
    v1.handle({"apple"});
    v1.snapshot();
    v1.handle({"pear"});
  }
  using V2 = Prevayler<cereal_versions_v2::Inventory, cereal_versions_v2::Item>;
  const auto reopen = [&] {
    V2::Options o;
    o.business = [](const cereal_versions_v2::Inventory& inventory,
                    const cereal_versions_v2::Item& item, Timestamp) {
      auto next = inventory;
      next.items.push_back(item);
      return next;
    };
    o.storage = storage();
    return std::make_unique<V2>(std::move(o));
  };
  auto v2 = reopen();
  const auto quantities = [](const cereal_versions_v2::Inventory& inventory) {
    std::vector<std::pair<std::string, long>> out;
    for (const auto& item : inventory.items) out.emplace_back(item.name, item.quantity);
    return out;
  };
  using Pairs = std::vector<std::pair<std::string, long>>;
  EXPECT_EQ(quantities(*v2->state()), (Pairs{{"apple", 1}, {"pear", 1}}));
  v2->handle({"plum", 5});
  v2.reset();
  EXPECT_EQ(quantities(*reopen()->state()), (Pairs{{"apple", 1}, {"pear", 1}, {"plum", 5}}));
}

}  // namespace
}  // namespace prevayler::testing
