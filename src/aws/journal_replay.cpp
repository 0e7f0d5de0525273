#include "aws/journal_replay.hpp"

#include <algorithm>
#include <deque>
#include <future>
#include <memory>

#include "core/record_codec.hpp"
#include "core/task_pool.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

void deliver(RecoveryHandler& handler, std::uint64_t segment, std::uint64_t order,
             const DecodedRecord& record) {
  if (record.type != RecordType::batch) {
    throw CorruptionError("segment " + std::to_string(segment) + ", order " +
                          std::to_string(order) + ": fragments do not form a batch record");
  }
  for (std::uint32_t e = 0; e < record.entries.size(); ++e) {
    handler.entry(JournalPosition{segment, order, e}, record.entries[e]);
  }
}

// The order ranges of one segment, fetched ahead with up to
// replay_parallel_queries range Queries of one page each and handed out
// strictly in order. Only one range is in flight until the first page is
// back: if it stopped at DynamoDB's 1 MB, the ranges after it are cut to
// what fitted, instead of each needing a continuation.
class RangeReader {
 public:
  RangeReader(aws::DynamoDbClient& dynamodb, const AwsStorageOptions& options,
              std::uint64_t segment, std::uint64_t first, std::uint64_t highest)
      : dynamodb_(dynamodb),
        options_(options),
        segment_(segment),
        highest_(highest),
        next_first_(first),
        range_orders_(options.replay_page_size),
        pool_(options.replay_parallel_queries, "prevayler-query") {
    refill();
  }

  // The next page in order, or nullopt once `highest` is passed. A Query
  // that failed after its retries throws here. Whatever way the reader
  // goes, the pool's destructor first runs the queries still queued (at
  // most the window) and waits for them.
  std::optional<aws::QueryPage> next() {
    if (window_.empty()) return std::nullopt;
    Range range = std::move(window_.front());
    window_.pop_front();
    aws::QueryPage page = range.page.get();
    if (page.last_evaluated_order && *page.last_evaluated_order < range.last) {
      // The page stopped at 1 MB: the rest of the range is next, and later
      // ranges are cut to what fitted, so that they do not stop short too.
      window_.push_front(fetch(*page.last_evaluated_order + 1, range.last));
      range_orders_ = std::max<std::uint64_t>(1, std::min(range_orders_, page.items.size()));
    }
    window_max_ = options_.replay_parallel_queries;
    refill();
    return page;
  }

 private:
  struct Range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::future<aws::QueryPage> page;
  };

  Range fetch(std::uint64_t first, std::uint64_t last) {
    auto query = std::make_shared<std::packaged_task<aws::QueryPage()>>([this, first, last] {
      return dynamodb_.query_range(options_.table, segment_, first, last,
                                   static_cast<std::uint32_t>(last - first + 1));
    });
    Range r{first, last, query->get_future()};
    pool_.submit([query] { (*query)(); });  // its exception goes to the future
    return r;
  }

  void refill() {
    while (window_.size() < window_max_ && next_first_ <= highest_) {
      const std::uint64_t last = std::min(highest_, next_first_ + range_orders_ - 1);
      window_.push_back(fetch(next_first_, last));
      next_first_ = last + 1;
    }
  }

  aws::DynamoDbClient& dynamodb_;
  const AwsStorageOptions& options_;
  const std::uint64_t segment_;
  const std::uint64_t highest_;
  std::uint64_t next_first_;
  std::uint64_t range_orders_;  // shrinks to what fits in a 1 MB page
  std::deque<Range> window_;    // at most replay_parallel_queries pages
  std::size_t window_max_ = 1;
  TaskPool pool_;  // last: destroyed first, while the members it uses live
};

}  // namespace

JournalReplay::JournalReplay(aws::DynamoDbClient& dynamodb, const AwsStorageOptions& options,
                             const Decryption& decryption, GapRole role)
    : dynamodb_(dynamodb),
      options_(options),
      decryption_(decryption),
      role_(role),
      fragments_(options.table, options.common.warn) {}

ReplayCursor JournalReplay::applied(const ReplayCursor& c) const {
  ReplayCursor at{c.segment, c.expected, false};
  if (const std::optional<std::uint64_t> first = fragments_.partial_first_order()) {
    at.expected = *first;
  }
  return at;
}

void JournalReplay::replay(ReplayCursor& c, RecoveryHandler& handler, bool ranges) {
  // Bounded by the journal: each pass follows one seal to a later segment.
  c.stopped_at_seal = false;
  while (replay_segment(c, handler, ranges)) {
    if (c.stopped_at_seal) return;
  }
}

void JournalReplay::drop_partial_fragments(const ReplayCursor& c, const char* why) {
  fragments_.drop_partial(c.segment, why);
}

// A gap: nothing after a failed write was acknowledged. The tail ends at
// c.expected; taking ownership seals the gap, which hides the rest.
void JournalReplay::end_at_gap(ReplayCursor& c, const aws::JournalItem& found) {
  c.gap = true;
  // Only a record as small as a seal is decoded: a seal is never encrypted.
  constexpr std::size_t seal_record_bytes = record_head_bytes + seal_body_bytes;
  c.gap_before_seal = false;
  if (found.content.size() <= seal_record_bytes) {
    try {
      c.gap_before_seal =
          decode_record(found.content, journal_item_name(options_.table, c.segment, found.order),
                        Decryption{}, RecordPosition{c.segment, found.order})
              .type == RecordType::seal;
    } catch (const Error&) {
      // Not a seal; replay reports damage where it applies items.
    }
  }
  if (role_ == GapRole::follower) return;
  options_.common.warn(journal_item_name(options_.table, c.segment, found.order) +
                       " follows a gap at order " + std::to_string(c.expected) +
                       "; items from there on were never acknowledged and are sealed off");
}

// The one gap/seal loop of both replay paths.
JournalReplay::PageEnd JournalReplay::apply_page(ReplayCursor& c,
                                                 const std::vector<aws::JournalItem>& items,
                                                 RecoveryHandler& handler) {
  for (const aws::JournalItem& item : items) {
    if (item.order != c.expected) {
      end_at_gap(c, item);
      return PageEnd::gap;
    }
    if (apply_item(c, item, handler)) return PageEnd::seal;
  }
  return PageEnd::consumed;
}

// Replays the rest of c.segment. Returns true when it ended in a seal (the
// cursor then points at the start of the next segment).
bool JournalReplay::replay_segment(ReplayCursor& c, RecoveryHandler& handler, bool ranges) {
  if (ranges && options_.replay_parallel_queries > 1) {
    if (const std::optional<bool> sealed = replay_ranges(c, handler)) return *sealed;
  }
  return replay_pages(c, handler);
}

// Sequentially, one page ahead: the next page is fetched while this one is applied.
bool JournalReplay::replay_pages(ReplayCursor& c, RecoveryHandler& handler) {
  const std::uint64_t segment = c.segment;
  auto fetch = [this, segment](std::optional<std::uint64_t> after) {
    return dynamodb_.query_page(options_.table, segment, after, options_.replay_page_size, true);
  };
  std::optional<std::uint64_t> start;
  if (c.expected > 1) start = c.expected - 1;
  std::future<aws::QueryPage> next_page = std::async(std::launch::async, fetch, start);
  // Bounded by the segment: each page starts after the last order of the one before.
  for (;;) {
    aws::QueryPage page = next_page.get();
    if (page.last_evaluated_order) {
      next_page = std::async(std::launch::async, fetch, page.last_evaluated_order);
    }
    const PageEnd end = apply_page(c, page.items, handler);
    if (end != PageEnd::consumed) {
      if (next_page.valid()) next_page.wait();
      return end == PageEnd::seal;
    }
    if (!page.last_evaluated_order) return false;
  }
}

// Replays c.segment from c.expected up to the highest order it holds now
// with range Queries in parallel (RangeReader). Returns nullopt when it
// reached that order, or when too little is left to be worth it: the rest
// (written since, perhaps) is then replayed sequentially. Otherwise returns
// whether it ended in a seal (true) or at a gap (false).
std::optional<bool> JournalReplay::replay_ranges(ReplayCursor& c, RecoveryHandler& handler) {
  const std::uint64_t page_orders = options_.replay_page_size;
  const std::optional<std::uint64_t> highest = dynamodb_.last_order(options_.table, c.segment);
  if (!highest || *highest < c.expected ||
      *highest - c.expected + 1 <= replay_parallel_pages_min * page_orders) {
    return std::nullopt;
  }
  RangeReader ranges(dynamodb_, options_, c.segment, c.expected, *highest);
  // Bounded: the ranges cover c.expected..highest once.
  while (std::optional<aws::QueryPage> page = ranges.next()) {
    const PageEnd end = apply_page(c, page->items, handler);
    if (end != PageEnd::consumed) return end == PageEnd::seal;
  }
  return std::nullopt;
}

bool JournalReplay::apply_item(ReplayCursor& c, const aws::JournalItem& item,
                               RecoveryHandler& handler) {
  const std::uint64_t segment = c.segment;
  const std::string where = journal_item_name(options_.table, segment, item.order);
  ++c.expected;
  // An encrypted record is bound to the order of its (first) item.
  const DecodedRecord record =
      decode_record(item.content, where, decryption_, RecordPosition{segment, item.order});
  if (record.type == RecordType::seal) {
    fragments_.drop_partial(segment, "followed by a seal");
    const bool owners_own = last_applied_ && last_applied_->segment == segment &&
                            last_applied_->order + 1 == item.order &&
                            last_applied_->writer_id == record.writer_id;
    if (!owners_own && (!lowest_unproven_seal_ || segment < *lowest_unproven_seal_)) {
      lowest_unproven_seal_ = segment;
    }
    c = ReplayCursor{record.next_segment, 1, false};
    if (seal_check_ && !seal_check_(segment)) c.stopped_at_seal = true;
    return true;
  }
  last_applied_ = AppliedItem{segment, item.order, record.writer_id};
  if (record.type == RecordType::fragment) {
    if (std::optional<FragmentAssembler::Whole> whole =
            fragments_.add(segment, item.order, record)) {
      deliver(handler, segment, whole->first_order,
              decode_record(whole->record, where, decryption_,
                            RecordPosition{segment, whole->first_order}));
    }
    return false;
  }
  fragments_.drop_partial(segment, "followed by another record");
  deliver(handler, segment, item.order, record);
  return false;
}

}  // namespace prevayler::detail
