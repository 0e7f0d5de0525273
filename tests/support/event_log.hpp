// The state of the engine tests: every event, a number, appended to a list,
// so a test sees which events count and in what order.
#pragma once

#include <cereal/types/vector.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "prevayler/prevayler.hpp"

namespace prevayler::testing {

struct EventLog {
  std::vector<std::int64_t> events;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(events);
  }
};

inline EventLog append_event(const EventLog& log, const std::int64_t& e, Timestamp) {
  EventLog next = log;
  next.events.push_back(e);
  return next;
}

// Options that journal into `storage` with append_event and replay the
// whole journal on open (no snapshot), so a test sees every write.
inline Prevayler<EventLog, std::int64_t>::Options event_log_options(
    std::unique_ptr<Storage> storage) {
  Prevayler<EventLog, std::int64_t>::Options o;
  o.business = append_event;
  o.storage = std::move(storage);
  o.snapshot_on_open = false;
  return o;
}

}  // namespace prevayler::testing
