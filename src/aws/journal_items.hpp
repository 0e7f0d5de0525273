// A group commit as DynamoDB journal items, and back: one batch record per
// item, or, when the record is larger than an item may hold, consecutive
// fragment records (docs/format.md) that replay reassembles.
//
// Contract:
// - encode_journal_items() returns the items of one group commit, to be
//   written at consecutive orders of one segment. Each item's content is at
//   most journal_item_content_bytes_max, so it fits DynamoDB's item limit
//   with its key and attribute names.
// - FragmentAssembler takes the records of one segment in order and yields
//   a batch only when every fragment of it arrived, in order, from one
//   writer. An incomplete sequence (a write that failed or crashed part-way,
//   never acknowledged) is dropped with a warning when something else
//   follows it; a stray fragment (not the first of a sequence) likewise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aws/dynamodb.hpp"
#include "core/record_codec.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

// One item's `content`, leaving room in DynamoDB's 400 KB item limit for the
// attribute names and the two numbers of the key.
inline constexpr std::size_t journal_item_content_bytes_max = 350 * 1024;
// Attribute names, the two key numbers and DynamoDB's per-attribute overhead.
inline constexpr std::size_t journal_item_key_bytes_max = 1024;
static_assert(journal_item_content_bytes_max + journal_item_key_bytes_max <
                  aws::dynamodb_item_bytes_max,
              "a journal item must fit DynamoDB's item limit with its key");
// Largest entry the storage accepts: a group commit of one such entry is
// cut into about 750 fragments.
inline constexpr std::size_t journal_entry_bytes_max = std::size_t{256} << 20;

// "table T, item (partkey S, order O)", for messages.
std::string journal_item_name(const std::string& table, std::uint64_t segment, std::uint64_t order);

// The items of one group commit (see the contract above). With `keys`,
// the record is encrypted under its current key after compression and
// before it is cut into fragments, bound to `position` (the segment and
// order of its first item).
std::vector<std::string> encode_journal_items(const EntryBatch& batch, std::uint64_t writer_id,
                                              RecordCompressor* compressor,
                                              const KeyRing* keys = nullptr,
                                              RecordPosition position = {});

// Reassembles fragmented group commits during replay (see the contract).
class FragmentAssembler {
 public:
  using Warn = std::function<void(const std::string&)>;
  FragmentAssembler(std::string table, Warn warn)
      : table_(std::move(table)), warn_(std::move(warn)) {}

  // Takes the fragment record found at (segment, order). Returns the whole
  // batch record once its last fragment arrived (with the order of its
  // first item), else nullopt.
  struct Whole {
    std::uint64_t first_order = 0;
    std::string record;
  };
  std::optional<Whole> add(std::uint64_t segment, std::uint64_t order,
                           const DecodedRecord& fragment);

  // Drops an incomplete sequence (none: nothing happens), saying `why`.
  void drop_partial(std::uint64_t segment, const char* why);

  // The order of the first item of the sequence under way; nullopt when
  // none is (a follower stands before it: it is not applied yet).
  std::optional<std::uint64_t> partial_first_order() const {
    if (count_ == 0) return std::nullopt;
    return first_order_;
  }

 private:
  std::string table_;
  Warn warn_;
  std::string bytes_;
  std::uint32_t next_ = 0;
  std::uint32_t count_ = 0;  // 0: no sequence under way
  std::uint64_t first_order_ = 0;
  std::uint64_t writer_ = 0;
};

}  // namespace prevayler::detail
