#include "aws/journal_items.hpp"

#include <string_view>

#include "core/assert.hpp"
#include "core/record_cipher.hpp"

namespace prevayler::detail {

std::string journal_item_name(const std::string& table, std::uint64_t segment,
                              std::uint64_t order) {
  return "table " + table + ", item (partkey " + std::to_string(segment) + ", order " +
         std::to_string(order) + ")";
}

std::vector<std::string> encode_journal_items(const EntryBatch& batch, std::uint64_t writer_id,
                                              RecordCompressor* compressor, const KeyRing* keys,
                                              RecordPosition position) {
  std::vector<std::string> items(1);
  encode_batch_record(items[0], writer_id, batch, 0, batch.size(), compressor);
  if (keys) encrypt_record(items[0], 0, *keys, position);
  if (items[0].size() <= journal_item_content_bytes_max) return items;
  const std::string record = std::move(items[0]);
  items.clear();
  const std::size_t slice_bytes = journal_item_content_bytes_max - fragment_header_bytes;
  const auto count = static_cast<std::uint32_t>((record.size() + slice_bytes - 1) / slice_bytes);
  for (std::uint32_t i = 0; i < count; ++i) {
    encode_fragment_record(items.emplace_back(), writer_id, i, count,
                           std::string_view(record).substr(i * slice_bytes, slice_bytes));
    PREVAYLER_ASSERT(items.back().size() <= journal_item_content_bytes_max,
                     "a fragment item fits its content limit");
  }
  return items;
}

std::optional<FragmentAssembler::Whole> FragmentAssembler::add(std::uint64_t segment,
                                                               std::uint64_t order,
                                                               const DecodedRecord& fragment) {
  PREVAYLER_ASSERT(fragment.type == RecordType::fragment, "only fragments are assembled");
  const bool continues = count_ != 0 && fragment.fragment_index == next_ &&
                         fragment.fragment_count == count_ && fragment.writer_id == writer_;
  if (!continues) {
    drop_partial(segment, "followed by another record");
    if (fragment.fragment_index != 0) {
      warn_(journal_item_name(table_, segment, order) + ": ignored a stray fragment " +
            std::to_string(fragment.fragment_index) + " of " +
            std::to_string(fragment.fragment_count));
      return std::nullopt;
    }
    count_ = fragment.fragment_count;
    writer_ = fragment.writer_id;
    first_order_ = order;
  }
  bytes_.append(fragment.fragment_bytes);
  if (++next_ < count_) return std::nullopt;
  Whole whole{first_order_, std::move(bytes_)};
  bytes_.clear();
  next_ = count_ = 0;
  return whole;
}

void FragmentAssembler::drop_partial(std::uint64_t segment, const char* why) {
  if (count_ == 0) return;
  warn_(journal_item_name(table_, segment, first_order_) +
        ": ignored an incomplete group commit (" + std::to_string(next_) + " of " +
        std::to_string(count_) + " items, " + why +
        "): a write that failed or crashed, never acknowledged");
  bytes_.clear();
  next_ = count_ = 0;
}

}  // namespace prevayler::detail
