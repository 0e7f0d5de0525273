// One round of the two-writer test, shared by the file and AWS storages: A
// runs producers and a snapshot thread, B opens the same journal after a
// random delay and handles its own events; then A must have stopped, B's
// state must hold every event A acknowledged, and a third instance must see
// what B saw.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>

#include "prevayler/prevayler.hpp"
#include "support/crash_model.hpp"

namespace prevayler::testing {

using TakeoverPrevayler = Prevayler<crash::Bank, crash::TransferEvent>;

struct TakeoverRound {
  int delay_ms_min = 1;
  int delay_ms_max = 60;
  int snapshot_interval_ms = 5;
  std::uint64_t b_events = 10;
};

// `open` opens a new instance on the round's journal each time it is called.
// `context` ends failure messages (round and seed). Uses gtest assertions.
void run_takeover_round(const std::function<std::unique_ptr<TakeoverPrevayler>()>& open,
                        std::mt19937& rng, const TakeoverRound& round, const std::string& context);

}  // namespace prevayler::testing
