#include "support/takeover_driver.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace prevayler::testing {

namespace {

// A's acknowledgements before the takeover: B must arrive while A is
// working, or the round proves nothing about losing acknowledged events.
constexpr std::uint64_t acked_before_takeover_min = 6;
constexpr std::chrono::seconds acked_wait_max{60};

}  // namespace

void run_takeover_round(const std::function<std::unique_ptr<TakeoverPrevayler>()>& open,
                        std::mt19937& rng, const TakeoverRound& round, const std::string& context) {
  constexpr int producers_a = 6;
  constexpr std::uint32_t producer_b = producers_a;  // B's own producer id
  auto a = open();
  std::vector<std::uint64_t> acked(producers_a, 0);  // events acknowledged per producer
  std::atomic<int> stopped{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> taking_over{false};  // B is opening: A may fail from now on
  // Errors of A that the takeover does not explain, reported after the join.
  std::mutex unexpected_mutex;
  std::vector<std::string> unexpected;
  auto unexpected_error = [&](const std::string& what) {
    std::lock_guard lock(unexpected_mutex);
    unexpected.push_back(what);
  };
  std::mutex acked_mutex;
  std::condition_variable acked_cv;
  std::uint64_t acked_total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < producers_a; ++t) {
    threads.emplace_back([&, t] {
      std::uint64_t seq = 0;
      while (!stop) {
        try {
          a->handle(crash::TransferEvent{static_cast<std::uint32_t>(t), seq,
                                         static_cast<std::uint32_t>(t),
                                         static_cast<std::uint32_t>((t + 1) % crash::accounts), 1});
          acked[t] = ++seq;
          std::lock_guard lock(acked_mutex);
          ++acked_total;
          acked_cv.notify_all();
        } catch (const StorageFailedError& e) {  // SupersededError, or stopped otherwise
          if (!taking_over) unexpected_error(std::string("A stopped before B opened: ") + e.what());
          std::lock_guard lock(acked_mutex);
          ++stopped;
          acked_cv.notify_all();
          return;
        } catch (const std::exception& e) {
          unexpected_error(std::string("A's producer failed: ") + e.what());
          std::lock_guard lock(acked_mutex);
          ++stopped;
          acked_cv.notify_all();
          return;
        }
      }
    });
  }
  // A snapshot in flight on A at the moment B arrives, now and then. Once
  // B is opening, A's snapshot may fail as a write of a superseded owner
  // (a StorageError); anything else, or any failure before, is a defect.
  std::thread snapshotter([&] {
    while (!stop) {
      try {
        a->snapshot();
      } catch (const StorageError& e) {
        if (!taking_over) unexpected_error(std::string("A's snapshot failed: ") + e.what());
        return;
      } catch (const std::exception& e) {
        unexpected_error(std::string("A's snapshot threw: ") + e.what());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(round.snapshot_interval_ms));
    }
  });
  {
    std::unique_lock lock(acked_mutex);
    const bool working = acked_cv.wait_for(lock, acked_wait_max, [&] {
      return acked_total >= acked_before_takeover_min || stopped == producers_a;
    });
    EXPECT_TRUE(working && acked_total >= acked_before_takeover_min)
        << "A acknowledged " << acked_total << " events before the takeover, "
        << acked_before_takeover_min << " at least (" << context << ")";
  }
  // Then a random moment of A's work.
  std::this_thread::sleep_for(std::chrono::milliseconds(
      std::uniform_int_distribution<int>(round.delay_ms_min, round.delay_ms_max)(rng)));
  std::unique_ptr<TakeoverPrevayler> b;
  taking_over = true;
  try {
    b = open();  // takes over while A writes
    for (std::uint64_t i = 0; i < round.b_events; ++i) {
      b->handle(crash::TransferEvent{producer_b, i, 0, 1, 1});
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "B failed: " << e.what() << " (" << context << ")";
  }
  // A must now fail: give its producers time to hit the seal or fence.
  for (int wait = 0; wait < 1000 && stopped < producers_a; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  for (auto& t : threads) t.join();
  snapshotter.join();
  for (const std::string& what : unexpected) ADD_FAILURE() << what << " (" << context << ")";
  if (!b) return;
  EXPECT_EQ(stopped.load(), producers_a) << "A kept writing after the takeover (" << context << ")";
  const auto state = b->state();
  for (int t = 0; t < producers_a; ++t) {
    const auto have = static_cast<std::size_t>(t) < state->next_seq.size() ? state->next_seq[t] : 0;
    // Everything A acknowledged; at most the one event that was in flight.
    EXPECT_GE(have, acked[t]) << "B lost an event A acknowledged, producer " << t << " (" << context
                              << ")";
    EXPECT_LE(have, acked[t] + 1) << "producer " << t << " (" << context << ")";
  }
  ASSERT_GT(state->next_seq.size(), static_cast<std::size_t>(producer_b));
  EXPECT_EQ(state->next_seq[producer_b], round.b_events);
  EXPECT_EQ(state->total(), static_cast<std::int64_t>(crash::accounts) * crash::initial_balance);
  const auto b_state = *state;
  a.reset();
  b.reset();
  auto c = open();  // the journal says the same
  EXPECT_EQ(c->state()->next_seq, b_state.next_seq) << context;
  EXPECT_EQ(c->state()->balances, b_state.balances) << context;
  EXPECT_EQ(c->state()->total(),
            static_cast<std::int64_t>(crash::accounts) * crash::initial_balance);
}

}  // namespace prevayler::testing
