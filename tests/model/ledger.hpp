// The model test's workload: a ledger whose state is the exact list of the
// event ids it applied, in order, so the checker can tell which events a
// state holds, how often, and in which order. A hash chain over the ids is
// the state hash, so recovery also cross-checks every replayed event.
#pragma once

#include <cereal/types/vector.hpp>
#include <cstdint>
#include <vector>

#include "prevayler/prevayler.hpp"

namespace prevayler::model {

struct LedgerEvent {
  std::uint64_t id = 0;  // unique over one seed's run
  template <class Archive>
  void serialize(Archive& archive) {
    archive(id);
  }
};

struct Ledger {
  std::vector<std::uint64_t> ids;
  std::uint64_t chain = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(ids, chain);
  }
};

inline std::uint64_t chain_step(std::uint64_t chain, std::uint64_t id) {
  // splitmix64 of (chain ^ id): order-sensitive and cheap.
  std::uint64_t z = chain ^ (id + 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

using LedgerPrevayler = Prevayler<Ledger, LedgerEvent>;

// `state_hash` false leaves the replay unchecked, so that only the model's
// checker can notice a lost or extra event (the mutant tests).
inline LedgerPrevayler::Options ledger_options(std::unique_ptr<Storage> storage,
                                               bool snapshot_on_open,
                                               std::size_t writes_in_flight_max,
                                               bool state_hash = true) {
  LedgerPrevayler::Options options;
  options.business = [](const Ledger& ledger, const LedgerEvent& event, Timestamp) {
    Ledger next = ledger;
    next.ids.push_back(event.id);
    next.chain = chain_step(ledger.chain, event.id);
    return next;
  };
  if (state_hash) options.state_hash = [](const Ledger& ledger) { return ledger.chain; };
  options.storage = std::move(storage);
  options.snapshot_on_open = snapshot_on_open;
  options.limits.writes_in_flight_max = writes_in_flight_max;
  options.warn = [](const std::string&) {};
  return options;
}

}  // namespace prevayler::model
