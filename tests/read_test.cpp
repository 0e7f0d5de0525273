// Prevayler::read(): the current state without reference-count traffic,
// through a per-thread cache that must never serve another instance's
// state or a stale one.
#include <gtest/gtest.h>

#include <atomic>
#include <cereal/types/vector.hpp>
#include <thread>
#include <vector>

#include "prevayler/memory_storage.hpp"
#include "prevayler/prevayler.hpp"

namespace prevayler::testing {
namespace {

struct Counter {
  std::int64_t total = 0;
  std::int64_t events = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(total, events);
  }
};
using P = Prevayler<Counter, std::int64_t>;

std::unique_ptr<P> open_counter() {
  P::Options o;
  o.business = [](const Counter& c, const std::int64_t& e, Timestamp) {
    return Counter{c.total + e, c.events + 1};
  };
  o.storage = make_memory_storage(std::make_shared<MemoryStore>());
  return std::make_unique<P>(std::move(o));
}

std::int64_t total(const P& p) {
  return p.read([](const Counter& c) { return c.total; });
}

TEST(Read, SeesEveryAcknowledgedEvent) {
  auto p = open_counter();
  EXPECT_EQ(total(*p), 0);
  for (int i = 1; i <= 100; ++i) {
    p->handle(i);
    EXPECT_EQ(total(*p), i * (i + 1) / 2);
  }
}

TEST(Read, TwoInstancesOnOneThreadNeverShareTheCache) {
  auto a = open_counter();
  auto b = open_counter();
  a->handle(5);
  b->handle(7);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(total(*a), 5 + i);
    EXPECT_EQ(total(*b), 7 + 2 * i);
    a->handle(1);
    b->handle(2);
  }
  // A new instance (possibly at a reused address) starts fresh.
  a.reset();
  auto c = open_counter();
  EXPECT_EQ(total(*c), 0);
}

TEST(Read, ReadersOnOtherThreadsSeeMonotonicDurableStates) {
  auto p = open_counter();
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::int64_t last = 0;
      while (!stop) {
        const auto [sum, count] =
            p->read([](const Counter& c) { return std::pair(c.total, c.events); });
        if (count < last || sum != count) ++bad;  // every event adds 1
        last = count;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) p->handle(1);
  const std::int64_t acked = p->state()->events;
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(total(*p), acked);
}

}  // namespace
}  // namespace prevayler::testing
