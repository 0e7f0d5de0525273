// Two writers on one journal: B opens while A is under load. From then on A
// gets nothing acknowledged (SupersededError), and every event A or B
// acknowledged is in B's state. Repeated with random timing.
//
// PREVAYLER_TAKEOVER_ROUNDS sets the rounds (default 6).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "aws/aws_test_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/crash_driver.hpp"
#include "support/crash_model.hpp"

namespace prevayler::testing {
namespace {

using Bank = crash::Bank;
using Event = crash::TransferEvent;
using P = Prevayler<Bank, Event>;

std::unique_ptr<P> open_bank(const MotoJournal& journal) {
  P::Options o;
  o.business = crash::apply;
  o.initial_state = crash::initial_bank;
  o.storage = journal.open();
  return std::make_unique<P>(std::move(o));
}

TEST(Takeover, SecondWriterTakesOverAndLosesNothing) {
  const int rounds = env_int("PREVAYLER_TAKEOVER_ROUNDS", 6);
  const auto seed = static_cast<unsigned>(std::random_device{}() >> 1);
  std::cout << "takeover: " << rounds << " rounds, seed " << seed << "\n";
  std::mt19937 rng(seed);
  constexpr int producers_a = 6;
  constexpr int producer_b = producers_a;  // B's own producer id
  for (int round = 0; round < rounds; ++round) {
    MotoJournal journal;
    auto a = open_bank(journal);
    std::vector<std::uint64_t> acked(producers_a, 0);  // events acknowledged per producer
    std::atomic<int> superseded{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < producers_a; ++t) {
      threads.emplace_back([&, t] {
        std::uint64_t seq = 0;
        while (!stop) {
          try {
            a->handle(Event{static_cast<std::uint32_t>(t), seq, static_cast<std::uint32_t>(t),
                            static_cast<std::uint32_t>((t + 1) % crash::accounts), 1});
            acked[t] = ++seq;
          } catch (const SupersededError&) {
            ++superseded;
            return;
          } catch (const StorageFailedError&) {
            ++superseded;
            return;
          }
        }
      });
    }
    // A snapshot in flight on A at the moment B arrives, now and then.
    std::thread snapshotter([&] {
      try {
        while (!stop) {
          a->snapshot();
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
        }
      } catch (const Error&) {
      }
    });
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 400)(rng)));
    std::unique_ptr<P> b;
    std::uint64_t b_acked = 0;
    try {
      b = open_bank(journal);  // takes over while A writes
      for (std::uint64_t i = 0; i < 20; ++i) {
        b->handle(Event{producer_b, i, 0, 1, 1});
        b_acked = i + 1;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "B failed: " << e.what() << " (round " << round << ", seed " << seed << ")";
      stop = true;
      for (auto& t : threads) t.join();
      snapshotter.join();
      return;
    }
    // A must now fail: give its producers time to hit the seal.
    for (int wait = 0; wait < 1000 && superseded < producers_a; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop = true;
    for (auto& t : threads) t.join();
    snapshotter.join();
    EXPECT_EQ(superseded.load(), producers_a) << "round " << round << " (seed " << seed << ")";
    const auto state = b->state();
    for (int t = 0; t < producers_a; ++t) {
      const auto have =
          static_cast<std::size_t>(t) < state->next_seq.size() ? state->next_seq[t] : 0;
      // Everything A acknowledged; at most the one event that was in flight.
      EXPECT_GE(have, acked[t]) << "B lost an event A acknowledged, producer " << t << ", round "
                                << round << " (seed " << seed << ")";
      EXPECT_LE(have, acked[t] + 1) << "producer " << t << ", round " << round;
    }
    ASSERT_GT(state->next_seq.size(), static_cast<std::size_t>(producer_b));
    EXPECT_EQ(state->next_seq[producer_b], b_acked);
    EXPECT_EQ(state->total(), static_cast<std::int64_t>(crash::accounts) * crash::initial_balance);
    const auto b_state = *state;
    a.reset();
    b.reset();
    auto c = open_bank(journal);  // the journal says the same
    EXPECT_EQ(c->state()->next_seq, b_state.next_seq);
    EXPECT_EQ(c->state()->balances, b_state.balances);
  }
}

}  // namespace
}  // namespace prevayler::testing
