// Regression tests of the AWS journal protocol where features combine
// (docs/protocol.md, invariants I1-I6): each one failed before its fix.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "aws/aws_config.hpp"
#include "aws/aws_test_storage.hpp"
#include "aws/fault_injecting_transport.hpp"
#include "aws/journal_retention.hpp"
#include "aws/sim_aws.hpp"
#include "prevayler/prevayler.hpp"

namespace prevayler::testing {
namespace {

struct Values {
  std::vector<int> v;
  std::string padding;  // makes the snapshot as large as a test needs
  template <class A>
  void serialize(A& a) {
    a(v, padding);
  }
};
using P = Prevayler<Values, int>;

// The business function of every instance here: appends the event.
Values append_value(const Values& s, const int& e, Timestamp) {
  Values n = s;
  n.v.push_back(e);
  return n;
}

// Forwards to moto; holds the first request that matches `hold_if` until
// release(), and can fail the n-th request that matches `fail_if`.
class GateTransport : public aws::HttpTransport {
 public:
  explicit GateTransport(std::shared_ptr<aws::HttpTransport> inner) : inner_(std::move(inner)) {}

  aws::HttpResponse send(const aws::HttpRequest& request) override {
    bool hold = false;
    bool fail = false;
    {
      std::unique_lock lock(mutex_);
      if (hold_if_ && !held_ && hold_if_(request)) {
        held_ = true;
        hold = true;
        arrived_cv_.notify_all();
        released_cv_.wait(lock, [&] { return released_; });
      }
      if (fail_if_ && fail_if_(request) && ++fail_seen_ == fail_nth_) fail = true;
    }
    (void)hold;
    std::string put_action;
    if (is_put_item(request)) {
      std::lock_guard lock(mutex_);
      if (!put_script_.empty()) {
        put_action = put_script_.front();
        put_script_.erase(put_script_.begin());
      }
    }
    if (put_action == "throttle") {
      aws::HttpResponse r;
      r.status = 400;
      r.body = R"({"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"x"})";
      return r;
    }
    if (put_action == "applied-then-lost") {
      // Applied by the server; the connection breaks before the answer.
      inner_->send(request);
      throw aws::TransportError("injected: connection reset after the request was sent", true);
    }
    if (put_action == "not-an-aws-error") {
      throw std::runtime_error("injected: an error of no AWS kind");
    }
    if (put_action == "stored-bad-crc") {
      // Applied by the server; the answer arrives damaged.
      aws::HttpResponse r = inner_->send(request);
      std::erase_if(r.headers, [](const auto& h) { return aws::iequals(h.first, "x-amz-crc32"); });
      r.headers.emplace_back("x-amz-crc32", "1");
      return r;
    }
    if (fail) {
      aws::HttpResponse r;
      r.status = 400;
      r.body = R"({"__type":"com.amazon.coral.validate#ValidationException","message":"injected"})";
      return r;
    }
    return inner_->send(request);
  }

  // What to do with the next PutItems, in order: "throttle" (answered, not
  // applied), "stored-bad-crc" (applied, answer fails its CRC),
  // "applied-then-lost" (applied, no answer) or "not-an-aws-error" (a
  // std::runtime_error, not sent).
  void script_puts(std::vector<std::string> actions) {
    std::lock_guard lock(mutex_);
    put_script_ = std::move(actions);
  }
  void hold_first(std::function<bool(const aws::HttpRequest&)> predicate) {
    std::lock_guard lock(mutex_);
    hold_if_ = std::move(predicate);
  }
  void wait_until_held() {
    std::unique_lock lock(mutex_);
    arrived_cv_.wait(lock, [&] { return held_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    released_cv_.notify_all();
  }
  void fail_nth(std::function<bool(const aws::HttpRequest&)> predicate, int n) {
    std::lock_guard lock(mutex_);
    fail_if_ = std::move(predicate);
    fail_nth_ = n;
    fail_seen_ = 0;
  }

 private:
  std::shared_ptr<aws::HttpTransport> inner_;
  std::mutex mutex_;
  std::condition_variable arrived_cv_;
  std::condition_variable released_cv_;
  std::function<bool(const aws::HttpRequest&)> hold_if_;
  bool held_ = false;
  bool released_ = false;
  std::function<bool(const aws::HttpRequest&)> fail_if_;
  int fail_nth_ = 0;
  int fail_seen_ = 0;
  std::vector<std::string> put_script_;

  static bool is_put_item(const aws::HttpRequest& r) {
    for (const auto& [name, value] : r.headers) {
      if (aws::iequals(name, "X-Amz-Target")) return value.ends_with("PutItem");
    }
    return false;
  }
};

bool is_dynamodb(const aws::HttpRequest& r, std::string_view operation) {
  for (const auto& [name, value] : r.headers) {
    if (aws::iequals(name, "X-Amz-Target")) return value.ends_with(operation);
  }
  return false;
}

std::unique_ptr<P> open(const MotoJournal& journal, std::uint32_t keep,
                        std::shared_ptr<aws::HttpTransport> transport = nullptr,
                        std::function<void(AwsStorageOptions&)> adjust = {},
                        std::shared_ptr<std::vector<std::string>> warnings = nullptr) {
  P::Options o;
  o.business = append_value;
  auto so = journal.options();
  so.common.keep_snapshots = keep;
  if (warnings) {
    auto mutex = std::make_shared<std::mutex>();
    so.common.warn = [warnings, mutex](const std::string& m) {
      std::lock_guard lock(*mutex);
      warnings->push_back(m);
    };
  }
  if (adjust) adjust(so);
  o.storage = detail::make_aws_storage(so, std::move(transport));
  return std::make_unique<P>(std::move(o));
}

std::vector<int> recovered(const MotoJournal& journal) { return open(journal, 0)->state()->v; }

bool warned(const std::vector<std::string>& warnings, const std::string& text) {
  return std::any_of(warnings.begin(), warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

std::size_t non_seal_items(const MotoJournal& journal, std::uint64_t segment) {
  std::size_t n = 0;
  std::optional<std::uint64_t> after;
  do {
    auto page = MotoJournal::dynamodb().query_page(journal.table, segment, after, 1000);
    for (const auto& item : page.items)
      if (!detail::is_seal_content(item.content)) ++n;
    after = page.last_evaluated_order;
  } while (after);
  return n;
}

// Issue 9.1: B opens with keep_snapshots = 1, seals A out, snapshots at open
// and prunes A's segment. The seal must survive, or A's next writes land in
// a segment no recovery reads and are acknowledged, then lost.
TEST(AwsProtocolRegression, RetentionAtTakeoverKeepsTheSealThatFencesTheOldOwner) {
  MotoJournal journal;
  auto a = open(journal, 0);
  a->handle(1);
  a->handle(2);
  auto b = open(journal, 1);  // takeover, snapshot at open, retention
  std::vector<int> acknowledged_by_a;
  for (int e = 10; e < 13; ++e) {
    try {
      a->handle(e);
      acknowledged_by_a.push_back(e);
    } catch (const SupersededError&) {
    } catch (const StorageFailedError&) {
    }
  }
  EXPECT_TRUE(acknowledged_by_a.empty()) << "the old owner got events acknowledged after B's open";
  b->handle(3);
  b.reset();
  EXPECT_EQ(recovered(journal), (std::vector<int>{1, 2, 3}));
}

// Issue 9.1, by hand: the operator prune after the new owner's snapshots.
TEST(AwsProtocolRegression, PruneAfterTakeoverKeepsTheSealThatFencesTheOldOwner) {
  MotoJournal journal;
  auto a = open(journal, 0);
  a->handle(1);
  auto b = open(journal, 0);
  b->handle(2);
  b->snapshot();
  EXPECT_GT(prune_aws_journal(journal.options()), 0u);
  EXPECT_THROW(a->handle(99), StorageFailedError);
  EXPECT_THROW(a->handle(98), StorageFailedError);
  b->handle(3);
  b.reset();
  EXPECT_EQ(recovered(journal), (std::vector<int>{1, 2, 3}));
}

// Issue 9.1, third case: an opener reads an old snapshot; before it replays,
// another instance snapshots and prunes the segments it is about to read.
// It must start over from the newer snapshot, not take the pruned segment
// for the tail (and miss every event after it).
TEST(AwsProtocolRegression, OpenerWhoseSegmentsArePrunedUnderItStartsOver) {
  MotoJournal journal;
  {
    auto a = open(journal, 0);
    a->handle(1);
    a->snapshot();
    a->handle(2);
  }
  auto gate = std::make_shared<GateTransport>(aws::testing::test_transport());
  gate->hold_first([](const aws::HttpRequest& r) { return is_dynamodb(r, "Query"); });
  auto warnings = std::make_shared<std::vector<std::string>>();
  auto c = std::async(std::launch::async, [&] { return open(journal, 0, gate, {}, warnings); });
  gate->wait_until_held();  // C has read snapshot and is about to replay
  {
    auto b = open(journal, 1);  // snapshot at open + retention
    b->handle(3);
    b->snapshot();
    b->handle(4);
  }
  gate->release();
  auto opened = c.get();
  EXPECT_EQ(opened->state()->v, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(warned(*warnings, "starts over"));
  opened->handle(5);
  opened.reset();
  EXPECT_EQ(recovered(journal), (std::vector<int>{1, 2, 3, 4, 5}));
}

// An opener that found a segment emptied by retention seals at the emptied
// order: its seal says the segment ended before events that were
// acknowledged (they are in the newer snapshot), and its own recovery
// starts over. Another opener that read the older snapshot and replays that
// segment only after the seal is in follows it, and its tail lies past the
// newest snapshot, so the check of the tail alone let it open without
// those events. Every seal it followed is checked as well (recover_from()).
TEST(AwsProtocolRegression, OpenerThatFollowsASealAtOrdersRetentionEmptiedStartsOver) {
  MotoJournal journal;
  {
    auto a = open(journal, 0);
    a->handle(1);
    a->snapshot();  // seal (1,2), snapshot 2
    a->handle(2);   // (2,1)
  }
  auto gate = std::make_shared<GateTransport>(aws::testing::test_transport());
  gate->hold_first([](const aws::HttpRequest& r) { return is_dynamodb(r, "Query"); });
  auto warnings = std::make_shared<std::vector<std::string>>();
  auto c = std::async(std::launch::async, [&] { return open(journal, 0, gate, {}, warnings); });
  gate->wait_until_held();  // C has read snapshot 2 and is about to replay segment 2
  {
    auto b = open(journal, 1);  // seal (2,2); snapshot 3 at open: retention deletes (2,1)
    b->handle(3);               // (3,1)
    b->handle(4);               // (3,2)
  }
  ASSERT_FALSE(MotoJournal::dynamodb().get_item(journal.table, 2, 1));
  // The late opener's seal at the emptied (2,1), into segment 3 like the
  // one at (2,2) (a seal's bytes do not depend on where it lies).
  MotoJournal::dynamodb().put_item_if_absent(
      journal.table, 2, 1, *MotoJournal::dynamodb().get_item(journal.table, 2, 2));
  gate->release();
  auto opened = c.get();
  EXPECT_EQ(opened->state()->v, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(warned(*warnings, "voided a seal"));
  opened->handle(5);
  opened.reset();
  EXPECT_EQ(recovered(journal), (std::vector<int>{1, 2, 3, 4, 5}));
}

// Every item of segments 0..segments_max, for "nothing was written".
std::vector<std::pair<std::uint64_t, std::string>> all_items(const MotoJournal& journal) {
  constexpr std::uint64_t segments_max = 16;
  std::vector<std::pair<std::uint64_t, std::string>> items;
  for (std::uint64_t segment = 0; segment <= segments_max; ++segment) {
    std::optional<std::uint64_t> after;
    do {
      auto page = MotoJournal::dynamodb().query_page(journal.table, segment, after, 1000);
      for (auto& item : page.items) items.emplace_back(segment, std::move(item.content));
      after = page.last_evaluated_order;
    } while (after);
  }
  return items;
}

// Issue 13 (docs/operations.md, "never restore an older snapshot version"):
// after a prune, the snapshot object is put back to an older version. Its
// segments are gone but their seals are kept, so replay met a gap, sealed
// there and opened with the old state, dropping every acknowledged event
// after it (and writing over the pruned orders). The open must refuse,
// write nothing, and open normally once the newest version is back.
TEST(AwsProtocolRegression, OlderSnapshotRestoredAfterAPruneIsRefused) {
  MotoJournal journal;
  const std::string key = journal.options().snapshot_path;
  std::string older;
  {
    auto a = open(journal, 0);
    a->handle(1);
    a->snapshot();
    older = MotoJournal::s3().get_object(journal.bucket, key).body;
    a->handle(2);
    a->snapshot();
    a->handle(3);
  }
  EXPECT_GT(prune_aws_journal(journal.options()), 0u);
  const std::string newest = MotoJournal::s3().get_object(journal.bucket, key).body;
  MotoJournal::s3().put_object(journal.bucket, key, older);
  const auto before = all_items(journal);
  try {
    open(journal, 0);
    FAIL() << "opened from a snapshot older than the pruned journal";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("older than the journal"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(journal.table), std::string::npos) << e.what();
  }
  EXPECT_EQ(all_items(journal), before) << "the refused open wrote to the journal";
  MotoJournal::s3().put_object(journal.bucket, key, newest);
  EXPECT_EQ(recovered(journal), (std::vector<int>{1, 2, 3}));
}

// The same after the snapshot object was deleted: replay from the start
// meets the pruned first segment.
TEST(AwsProtocolRegression, MissingSnapshotAfterAPruneIsRefused) {
  MotoJournal journal;
  {
    auto a = open(journal, 0);
    a->handle(1);
    a->snapshot();
    a->handle(2);
  }
  EXPECT_GT(prune_aws_journal(journal.options()), 0u);
  MotoJournal::s3().delete_object(journal.bucket, journal.options().snapshot_path);
  const auto before = all_items(journal);
  try {
    open(journal, 0);
    FAIL() << "opened without the snapshot of a pruned journal";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("no snapshot object"), std::string::npos) << e.what();
  }
  EXPECT_EQ(all_items(journal), before) << "the refused open wrote to the journal";
}

// Issue 9.3: the last attempt of a PutItem is a 2xx whose body fails its
// CRC: the item landed. Reporting the write as failed made the next write
// conflict with our own item (a false SupersededError) and a restart replay
// an event its caller was told had failed.
TEST(AwsProtocolRegression, CorruptSuccessOnTheLastAttemptIsAnUnknownOutcomeNotAFailure) {
  MotoJournal journal;
  auto gate = std::make_shared<GateTransport>(aws::testing::test_transport());
  auto p = open(journal, 0, gate, [](AwsStorageOptions& o) { o.writes_in_flight_max = 1; });
  // Two throttled attempts (certainly not applied), then one applied whose
  // answer fails its CRC: the last attempt decides, and it is ambiguous.
  gate->script_puts({"throttle", "throttle", "stored-bad-crc"});
  p->handle(1);  // must be acknowledged: the item is in the table
  p->handle(2);  // and the next write must not conflict with our own item
  p.reset();
  EXPECT_EQ(recovered(journal), (std::vector<int>{1, 2}));
}

// Issue 9.3, second case: an attempt that may have landed, then an error of
// no AWS kind on the retry. The write's outcome is unknown, not failed:
// reporting it failed made the next write conflict with our own item.
TEST(AwsProtocolRegression, OtherErrorAfterAnAttemptThatMayHaveLandedIsAnUnknownOutcome) {
  MotoJournal journal;
  auto gate = std::make_shared<GateTransport>(aws::testing::test_transport());
  auto p = open(journal, 0, gate, [](AwsStorageOptions& o) { o.writes_in_flight_max = 1; });
  gate->script_puts({"applied-then-lost", "not-an-aws-error"});
  p->handle(1);  // resent after the unknown outcome: finds its own item
  p->handle(2);
  p.reset();
  EXPECT_EQ(recovered(journal), (std::vector<int>{1, 2}));
}

// Issue 9.4: a snapshot replaced while recovery downloads it in ranges must
// not mix two versions (a false CorruptionError): recovery starts over.
TEST(AwsProtocolRegression, SnapshotReplacedDuringTheDownloadStartsRecoveryOver) {
  MotoJournal journal;
  const auto big = [](AwsStorageOptions& o) {
    o.common.compress_snapshots = false;
    o.snapshot_part_bytes = std::size_t{5} << 20;
  };
  {
    P::Options o;
    o.business = [](const Values& s, const int& e, Timestamp) {
      Values n = s;
      n.v.push_back(e);
      if (n.padding.empty()) n.padding.assign(std::size_t{11} << 20, 'x');
      return n;
    };
    auto so = journal.options();
    big(so);
    o.storage = detail::make_aws_storage(so, nullptr);
    P a(std::move(o));
    a.handle(1);
    a.snapshot();
  }
  auto gate = std::make_shared<GateTransport>(aws::testing::test_transport());
  std::atomic<int> gets{0};
  // Hold the third GET (a body range): the first range and the trailer
  // have been read.
  gate->hold_first([&](const aws::HttpRequest& r) { return r.method == "GET" && ++gets == 3; });
  auto warnings = std::make_shared<std::vector<std::string>>();
  auto c = std::async(std::launch::async, [&] { return open(journal, 0, gate, big, warnings); });
  gate->wait_until_held();
  {
    auto b = open(journal, 0, nullptr, big);  // writes snapshot 2 (same padding) at open
    b->handle(2);
    b->snapshot();
  }
  gate->release();
  auto opened = c.get();
  EXPECT_EQ(opened->state()->v, (std::vector<int>{1, 2}));
  EXPECT_EQ(opened->state()->padding.size(), std::size_t{11} << 20);
  EXPECT_TRUE(warned(*warnings, "replaced"));
}

// Issue 9.6: retention that fails between segments must be finished by the
// next run; pruning newest first stopped the next run at the first segment
// already gone, leaving every older one forever.
TEST(AwsProtocolRegression, RetentionThatFailedMidwayIsFinishedByTheNextRun) {
  MotoJournal journal;
  {
    auto a = open(journal, 0);
    for (int i = 0; i < 4; ++i) {
      a->handle(i);
      a->snapshot();  // segments 1..4 hold events
    }
    a->handle(9);
  }
  auto gate = std::make_shared<GateTransport>(aws::testing::test_transport());
  // The second segment retention deletes fails (a non-retryable error).
  gate->fail_nth([](const aws::HttpRequest& r) { return is_dynamodb(r, "BatchWriteItem"); }, 2);
  auto warnings = std::make_shared<std::vector<std::string>>();
  auto r = open(journal, 1, gate, {}, warnings);  // snapshot 6 at open: prunes 1..5
  bool warned = false;
  for (const auto& w : *warnings) warned |= w.find("retention") != std::string::npos;
  EXPECT_TRUE(warned) << "the injected failure did not hit retention";
  r->handle(10);
  r->snapshot();  // retention runs again
  for (std::uint64_t segment = 0; segment < 6; ++segment) {
    EXPECT_EQ(non_seal_items(journal, segment), 0u) << "segment " << segment << " not pruned";
  }
  r.reset();
  EXPECT_EQ(recovered(journal), (std::vector<int>{0, 1, 2, 3, 9, 10}));
}

// Issue 9.7: an open rides out transient faults on its reads (DescribeTable,
// HeadBucket, GetObject, Query): retried within read_retry_budget instead
// of three attempts.
TEST(AwsProtocolRegression, OpenRetriesTransientFaultsOnItsReadsWithinTheBudget) {
  MotoJournal journal;
  {
    auto a = open(journal, 0, nullptr, [](AwsStorageOptions& o) { o.replay_page_size = 2; });
    for (int i = 0; i < 6; ++i) a->handle(i);
    a->snapshot();
    for (int i = 6; i < 12; ++i) a->handle(i);
  }
  aws::FaultInjectionOptions fi;
  fi.seed = 7;
  fi.probabilities.throttle = 0.15;
  fi.probabilities.server_error = 0.15;
  fi.probabilities.connection_reset = 0.15;
  auto faults = std::make_shared<aws::FaultInjectingTransport>(aws::testing::test_transport(), fi);
  std::vector<int> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(i);
  for (int round = 0; round < 4; ++round) {
    auto p = open(journal, 0, faults, [](AwsStorageOptions& o) { o.replay_page_size = 2; });
    EXPECT_EQ(p->state()->v, expected) << "round " << round;
  }
  const auto c = faults->counters();
  EXPECT_GT(c.throttles, 0u);
  EXPECT_GT(c.server_errors, 0u);
  EXPECT_GT(c.connection_resets, 0u);
}

// Issue 9.8: an endpoint with user:password@ is refused, and never echoed.
TEST(AwsProtocolRegression, EndpointWithUserInfoIsRefusedWithoutEchoingIt) {
  MotoJournal journal;
  auto so = journal.options();
  so.endpoint = "http://admin:hunter2@127.0.0.1:1";
  try {
    detail::make_aws_storage(so, nullptr);
    FAIL() << "accepted an endpoint with credentials";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(aws::redact_userinfo("https://u:p@host:9/x"), "https://***@host:9/x");
  EXPECT_EQ(aws::redact_userinfo("https://host:9/a@b"), "https://host:9/a@b");
}

// Issue 9.8: a lifecycle rule deleted the snapshot object: the next
// snapshot's If-Match gets a 404, and must write the object anyway.
TEST(AwsProtocolRegression, SnapshotAfterTheObjectWasDeletedIsWritten) {
  MotoJournal journal;
  auto p = open(journal, 0);
  p->handle(1);
  p->snapshot();
  MotoJournal::s3().delete_object(journal.bucket, "snapshot");
  p->handle(2);
  EXPECT_NO_THROW(p->snapshot());
  EXPECT_GT(MotoJournal::s3().head_object(journal.bucket, "snapshot").size, 0u);
  p.reset();
  EXPECT_EQ(recovered(journal), (std::vector<int>{1, 2}));
}

// Replay and retention read the journal with ConsistentRead: an eventually
// consistent Query may miss the newest writes (the simulator hides the last
// few), and the protocol's reasoning (a gap is where the tail ends) assumes
// it sees every write that returned.
TEST(AwsProtocolRegression, EveryJournalReadIsStronglyConsistent) {
  auto sim = SimAws::create();
  sim->create_table("journal");
  sim->create_bucket("snapshots");
  auto so = SimAws::storage_options("journal", "snapshots");
  so.common.keep_snapshots = 1;
  so.replay_page_size = 2;
  auto make = [&] {
    P::Options o;
    o.business = append_value;
    o.storage = detail::make_aws_storage(so, sim->connect("host"));
    return std::make_unique<P>(std::move(o));
  };
  {
    auto p = make();
    for (int i = 0; i < 12; ++i) p->handle(i);
    p->snapshot();  // retention
    for (int i = 12; i < 20; ++i) p->handle(i);
  }
  EXPECT_EQ(make()->state()->v.size(), 20u);
  detail::prune_aws_journal(so, sim->connect("operator"));
  EXPECT_EQ(sim->eventually_consistent_reads(), 0u);
}

// A pipelined write that certainly failed, with a later one that landed
// behind it: the journal now holds events after a gap that no one will
// acknowledge. The instance must stop (the later write's outcome is left to
// the journal); resuming at the gap would put new events before the landed
// ones and replay an event whose caller was told it failed (I3, I5).
TEST(AwsProtocolRegression, PipelinedWriteLandedBehindAFailedOneStopsTheInstance) {
  auto sim = SimAws::create();
  sim->create_table("journal");
  sim->create_bucket("snapshots");
  auto so = SimAws::storage_options("journal", "snapshots");
  so.max_attempts = 1;  // a throttled write certainly failed at once
  so.writes_in_flight_max = 4;
  auto host = sim->connect("host");
  P::Options o;
  o.business = append_value;
  o.storage = detail::make_aws_storage(so, host);
  o.snapshot_on_open = false;
  P p(std::move(o));
  p.handle(0);
  host->hold_next();
  auto held = p.handle_async(1);  // its PutItem waits at the gate
  ASSERT_TRUE(host->wait_held());
  const std::size_t items_before = sim->items("journal").size();
  auto landed = p.handle_async(2);  // sent while the first is held: lands
  for (int i = 0; i < 10'000 && sim->items("journal").size() == items_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(sim->items("journal").size(), items_before + 1) << "the later write did not land";
  sim->fail_next("DynamoDB.PutItem", SimFault::throttle);
  host->release();
  EXPECT_THROW(held.get(), StorageError);
  EXPECT_THROW(landed.get(), StorageFailedError) << "its outcome is the journal's to decide";
  EXPECT_THROW(p.handle(3), StorageFailedError) << "the instance must stop";
  auto again = SimAws::storage_options("journal", "snapshots");
  P::Options r;
  r.business = append_value;
  r.storage = detail::make_aws_storage(again, sim->connect("restart"));
  P recovered(std::move(r));
  EXPECT_EQ(recovered.state()->v, (std::vector<int>{0}));
}

}  // namespace
}  // namespace prevayler::testing
