// What the model test observed, on one global logical clock, and the
// checker of the library's promises (docs/protocol.md, I1..I7; the
// driver checks I9 at each prune) against it.
//
// Times are ticks of one counter, taken right before a call starts
// (submitted, open_started) and right after it returns (done,
// open_returned). So a tick bounds the real moment from one side only: an
// event acknowledged at `done` became durable at some moment before it, and
// an event submitted at `submitted` cannot have been journaled before it.
// The checker only asserts orderings these bounds make certain.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace prevayler::model {

enum class Outcome {
  pending,
  acknowledged,      // handle() returned / the future held a state
  failed_certainly,  // StorageError (not StorageFailedError), ClosedError
  unknown,           // StorageFailedError, SupersededError, the host crashed
};

struct EventRecord {
  std::uint64_t id = 0;
  int instance = -1;
  std::uint64_t submitted = 0;
  std::uint64_t done = 0;
  Outcome outcome = Outcome::pending;
  std::string error;
};

struct InstanceRecord {
  int index = -1;
  int host = -1;
  std::uint64_t open_started = 0;
  std::uint64_t open_returned = 0;  // 0: the open failed
  std::string open_error;
  std::vector<std::uint64_t> recovered;            // its state right after the open returned
  std::uint64_t crashed_at = 0;                    // 0: never crashed
  std::optional<std::vector<std::uint64_t>> live;  // its state when it was dropped
  bool usable_at_end = false;  // never stopped, never crashed (for the I3 equality)
};

class History {
 public:
  std::uint64_t tick();
  // A new event of `instance`: its id; stamps `submitted`.
  std::uint64_t submit(int instance);
  void finish(std::uint64_t id, Outcome outcome, std::string error = {});
  int begin_open(int host);
  int peek_next_instance() const;
  void opened(int index, std::vector<std::uint64_t> recovered);
  void open_failed(int index, std::string error);
  // Stamps the crash of every instance of `host` not yet dropped.
  void crashed(int host);
  void dropped(int index, std::vector<std::uint64_t> live, bool usable);
  // A violation seen by the driver itself (an unexpected exception type).
  void violation(std::string what);

  // Checks the run against the state a final recovery produced (nullopt:
  // it failed with `final_error`). Returns the violations, empty if none.
  std::vector<std::string> check(const std::optional<std::vector<std::uint64_t>>& final_state,
                                 const std::string& final_error) const;

  std::size_t events() const;
  std::size_t acknowledged() const;

 private:
  Outcome effective(const EventRecord& e) const;

  mutable std::mutex mutex_;
  std::uint64_t clock_ = 0;
  std::vector<EventRecord> events_;  // index = id - 1
  std::vector<InstanceRecord> instances_;
  std::vector<std::string> driver_violations_;
};

}  // namespace prevayler::model
