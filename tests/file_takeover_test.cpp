// Two hosts on a shared filesystem, played in one process (the flock that
// protects one host is skipped): B opens the directory while A is under
// load. From then on A gets nothing acknowledged, and every event A or B
// acknowledged is in B's state. Repeated with random timing.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "file/file_storage_impl.hpp"
#include "prevayler/prevayler.hpp"
#include "support/crash_driver.hpp"
#include "support/crash_model.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

using P = Prevayler<crash::Bank, crash::TransferEvent>;

std::unique_ptr<P> open_unlocked(const std::filesystem::path& dir) {
  P::Options o;
  o.business = crash::apply;
  o.initial_state = crash::initial_bank;
  FileStorageOptions so;
  so.directory = dir;
  so.warn = [](const std::string&) {};
  o.storage = detail::make_file_storage(so, detail::posix_file_io(), /*lock_directory=*/false);
  return std::make_unique<P>(std::move(o));
}

TEST(FileTakeover, SecondHostTakesOverAndLosesNothing) {
  const int rounds = env_int("PREVAYLER_TAKEOVER_ROUNDS", 20);
  const auto seed = static_cast<unsigned>(std::random_device{}() >> 1);
  std::cout << "file takeover: " << rounds << " rounds, seed " << seed << "\n";
  std::mt19937 rng(seed);
  constexpr int producers_a = 6;
  constexpr std::uint32_t producer_b = producers_a;
  for (int round = 0; round < rounds; ++round) {
    TempDir tmp;
    auto a = open_unlocked(tmp.path());
    std::vector<std::uint64_t> acked(producers_a, 0);
    std::atomic<int> stopped{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < producers_a; ++t) {
      threads.emplace_back([&, t] {
        std::uint64_t seq = 0;
        while (!stop) {
          try {
            a->handle(crash::TransferEvent{static_cast<std::uint32_t>(t), seq,
                                           static_cast<std::uint32_t>(t), 0, 1});
            acked[t] = ++seq;
          } catch (const StorageFailedError&) {
            ++stopped;
            return;
          }
        }
      });
    }
    std::thread snapshotter([&] {
      try {
        while (!stop) {
          a->snapshot();
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      } catch (const Error&) {
      }
    });
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(1, 60)(rng)));
    std::unique_ptr<P> b;
    try {
      b = open_unlocked(tmp.path());
      for (std::uint64_t i = 0; i < 10; ++i)
        b->handle(crash::TransferEvent{producer_b, i, 0, 1, 1});
    } catch (const std::exception& e) {
      ADD_FAILURE() << "B failed: " << e.what() << " (round " << round << ", seed " << seed << ")";
    }
    for (int wait = 0; wait < 1000 && stopped < producers_a; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop = true;
    for (auto& t : threads) t.join();
    snapshotter.join();
    if (!b) return;
    EXPECT_EQ(stopped.load(), producers_a) << "A kept writing after the takeover, round " << round;
    const auto state = b->state();
    for (int t = 0; t < producers_a; ++t) {
      const auto have =
          static_cast<std::size_t>(t) < state->next_seq.size() ? state->next_seq[t] : 0;
      EXPECT_GE(have, acked[t]) << "B lost an event A acknowledged, producer " << t << ", round "
                                << round << " (seed " << seed << ")";
      EXPECT_LE(have, acked[t] + 1) << "producer " << t << ", round " << round;
    }
    EXPECT_EQ(state->next_seq.at(producer_b), 10u);
    const auto b_state = *state;
    a.reset();
    b.reset();
    auto c = open_unlocked(tmp.path());
    EXPECT_EQ(c->state()->next_seq, b_state.next_seq) << "round " << round;
    EXPECT_EQ(c->state()->total(),
              static_cast<std::int64_t>(crash::accounts) * crash::initial_balance);
  }
}

}  // namespace
}  // namespace prevayler::testing
