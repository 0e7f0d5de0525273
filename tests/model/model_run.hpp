// One seed of the model test: 2-3 hosts on one journal, `ops` operations
// drawn from the seed (open/takeover/restart, handle, handle_async, bursts
// of producer threads with a takeover, crash, snapshot or prune in the
// middle, snapshot, close, prune, crash, copy: the documented migration to
// a fresh journal), then a final recovery and the checker (history.hpp).
//
// The seed fixes the operations and their arguments; the interleaving of
// the producer threads inside a burst is the OS scheduler's, so a replayed
// seed runs the same operations, not always the same interleaving.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/backend.hpp"

namespace prevayler::model {

struct RunResult {
  std::vector<std::string> violations;
  std::map<std::string, std::uint64_t> operations;  // by kind
  FaultTally faults;
  std::uint64_t events = 0;
  std::uint64_t acknowledged = 0;
};

struct ModelConfig {
  int ops = 40;        // operations per seed
  bool trace = false;  // print every operation as it runs (a replayed seed)
  // Off: every open has keep_snapshots 0 / no operator prune runs, to tell
  // a failure of retention or prune from others.
  bool instance_retention = true;
  bool operator_prune = true;
  // The ledger's state hash (checked at every replay).
  bool state_hash = true;
  // Where a copy goes; empty: no copy runs.
  CopyDestinationFactory copy_destination;
  // A copy's weight among the operations (model_run.cpp): 1 is a copy in
  // about one seed of four at 20 operations.
  int copy_weight = 1;
};

RunResult run_model(Backend& backend, std::uint64_t seed, const ModelConfig& config);

}  // namespace prevayler::model
