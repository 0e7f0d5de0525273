#include "model/history.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <unordered_map>

namespace prevayler::model {

namespace {

// Violations listed per seed: the first ones say enough.
constexpr std::size_t violations_listed_max = 12;

std::string describe_event(const EventRecord& e) {
  return "event " + std::to_string(e.id) + " (instance " + std::to_string(e.instance) +
         ", submitted t" + std::to_string(e.submitted) + ", done t" + std::to_string(e.done) +
         (e.error.empty() ? "" : ", error: " + e.error) + ")";
}

bool is_prefix(const std::vector<std::uint64_t>& prefix, const std::vector<std::uint64_t>& of) {
  return prefix.size() <= of.size() && std::equal(prefix.begin(), prefix.end(), of.begin());
}

}  // namespace

std::uint64_t History::tick() {
  std::lock_guard lock(mutex_);
  return ++clock_;
}

std::uint64_t History::submit(int instance) {
  std::lock_guard lock(mutex_);
  EventRecord e;
  e.id = events_.size() + 1;
  e.instance = instance;
  e.submitted = ++clock_;
  events_.push_back(e);
  return e.id;
}

void History::finish(std::uint64_t id, Outcome outcome, std::string error) {
  std::lock_guard lock(mutex_);
  assert(id >= 1 && id <= events_.size());
  EventRecord& e = events_[id - 1];
  assert(e.outcome == Outcome::pending);
  e.done = ++clock_;
  e.outcome = outcome;
  e.error = std::move(error);
}

int History::begin_open(int host) {
  std::lock_guard lock(mutex_);
  InstanceRecord r;
  r.index = static_cast<int>(instances_.size());
  r.host = host;
  r.open_started = ++clock_;
  instances_.push_back(r);
  return r.index;
}

int History::peek_next_instance() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(instances_.size());
}

void History::opened(int index, std::vector<std::uint64_t> recovered) {
  std::lock_guard lock(mutex_);
  InstanceRecord& r = instances_.at(index);
  r.open_returned = ++clock_;
  r.recovered = std::move(recovered);
}

void History::open_failed(int index, std::string error) {
  std::lock_guard lock(mutex_);
  instances_.at(index).open_error = std::move(error);
}

void History::crashed(int host) {
  std::lock_guard lock(mutex_);
  const std::uint64_t now = ++clock_;
  for (InstanceRecord& r : instances_) {
    if (r.host == host && r.open_returned != 0 && !r.live && r.crashed_at == 0) r.crashed_at = now;
  }
}

void History::dropped(int index, std::vector<std::uint64_t> live, bool usable) {
  std::lock_guard lock(mutex_);
  InstanceRecord& r = instances_.at(index);
  r.live = std::move(live);
  r.usable_at_end = usable && r.crashed_at == 0;
}

void History::violation(std::string what) {
  std::lock_guard lock(mutex_);
  driver_violations_.push_back(std::move(what));
}

std::size_t History::events() const {
  std::lock_guard lock(mutex_);
  return events_.size();
}

std::size_t History::acknowledged() const {
  std::lock_guard lock(mutex_);
  return std::count_if(events_.begin(), events_.end(),
                       [](const EventRecord& e) { return e.outcome == Outcome::acknowledged; });
}

// A caller that got a certain failure after its host crashed would not
// exist in a real crash, and its failure came from the cut I/O: unknown.
Outcome History::effective(const EventRecord& e) const {
  if (e.outcome == Outcome::pending) return Outcome::unknown;
  if (e.outcome != Outcome::failed_certainly) return e.outcome;
  const InstanceRecord& r = instances_.at(e.instance);
  if (r.crashed_at != 0 && e.done > r.crashed_at) return Outcome::unknown;
  return e.outcome;
}

std::vector<std::string> History::check(
    const std::optional<std::vector<std::uint64_t>>& final_state,
    const std::string& final_error) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> v = driver_violations_;
  auto add = [&](std::string what) {
    if (v.size() < violations_listed_max) v.push_back(std::move(what));
  };

  // I6: whatever the run left behind recovers.
  if (!final_state) {
    add("I6: the final recovery failed: " + final_error);
  }
  for (const InstanceRecord& r : instances_) {
    if (r.open_returned == 0 && r.open_error.rfind("[I6]", 0) == 0) {
      add("I6: open of instance " + std::to_string(r.index) + " (host " + std::to_string(r.host) +
          ") failed: " + r.open_error);
    }
  }

  // I2: no instance gets an event acknowledged that was submitted after a
  // newer owner's open returned (sound: an event cannot be acknowledged
  // before it is submitted; opens never overlap in this driver).
  for (const EventRecord& e : events_) {
    if (e.outcome != Outcome::acknowledged) continue;
    const InstanceRecord& owner = instances_.at(e.instance);
    for (const InstanceRecord& newer : instances_) {
      if (newer.open_returned == 0 || newer.open_started < owner.open_returned) continue;
      if (e.submitted > newer.open_returned) {
        add("I2: " + describe_event(e) + " was acknowledged, but instance " +
            std::to_string(newer.index) + " had opened at t" + std::to_string(newer.open_returned));
        break;
      }
    }
  }

  // Intermediate opens: each recovered everything acknowledged before it
  // started, and nothing that certainly failed.
  for (const InstanceRecord& r : instances_) {
    if (r.open_returned == 0) continue;
    std::unordered_map<std::uint64_t, int> seen;
    for (std::uint64_t id : r.recovered) ++seen[id];
    for (const EventRecord& e : events_) {
      const Outcome o = effective(e);
      if (o == Outcome::acknowledged && e.done < r.open_started && !seen.count(e.id)) {
        add("I1: open of instance " + std::to_string(r.index) + " at t" +
            std::to_string(r.open_started) + " lacks acknowledged " + describe_event(e));
      }
      if (o == Outcome::failed_certainly && seen.count(e.id)) {
        add("I5: open of instance " + std::to_string(r.index) + " recovered the certainly failed " +
            describe_event(e));
      }
    }
  }

  if (!final_state) return v;
  const std::vector<std::uint64_t>& state = *final_state;

  std::unordered_map<std::uint64_t, std::size_t> position;
  for (std::size_t i = 0; i < state.size(); ++i) {
    const std::uint64_t id = state[i];
    if (id == 0 || id > events_.size()) {
      add("I3: the recovered state holds event " + std::to_string(id) + ", never submitted");
    } else if (!position.emplace(id, i).second) {
      add("I1: the recovered state holds " + describe_event(events_[id - 1]) + " twice");
    }
  }

  for (const EventRecord& e : events_) {
    const Outcome o = effective(e);
    const bool present = position.count(e.id) != 0;
    if (o == Outcome::acknowledged && !present) {
      add("I1: acknowledged " + describe_event(e) + " is not in the recovered state");
    }
    if (o == Outcome::failed_certainly && present) {
      add("I5: certainly failed " + describe_event(e) + " is in the recovered state");
    }
  }

  // Order: an event acknowledged before another was submitted comes first.
  {
    std::vector<const EventRecord*> acked;
    for (const EventRecord& e : events_) {
      if (e.outcome == Outcome::acknowledged && position.count(e.id)) acked.push_back(&e);
    }
    std::sort(acked.begin(), acked.end(), [&](const EventRecord* a, const EventRecord* b) {
      return position.at(a->id) > position.at(b->id);
    });
    std::uint64_t min_done_after = std::numeric_limits<std::uint64_t>::max();
    const EventRecord* witness = nullptr;
    for (const EventRecord* e : acked) {
      if (min_done_after < e->submitted) {
        add("order: " + describe_event(*witness) + " was acknowledged before " +
            describe_event(*e) + " was submitted, yet comes after it");
      }
      if (e->done < min_done_after) {
        min_done_after = e->done;
        witness = e;
      }
    }
  }

  // I3: every recovered and every live state is a prefix of the final
  // recovery; the last owner, if it never stopped, equals it.
  int last_owner = -1;
  for (const InstanceRecord& r : instances_) {
    if (r.open_returned != 0) last_owner = r.index;
  }
  for (const InstanceRecord& r : instances_) {
    if (r.open_returned == 0) continue;
    if (!is_prefix(r.recovered, state)) {
      add("I3: the state instance " + std::to_string(r.index) + " recovered (" +
          std::to_string(r.recovered.size()) + " events) is not a prefix of the final recovery (" +
          std::to_string(state.size()) + " events)");
    }
    if (r.live && !is_prefix(*r.live, state)) {
      add("I3: the live state of instance " + std::to_string(r.index) + " (" +
          std::to_string(r.live->size()) + " events) is not a prefix of the final recovery (" +
          std::to_string(state.size()) + " events)");
    }
    if (r.index == last_owner && r.usable_at_end && r.live && *r.live != state) {
      add("I3: the live state of the last owner, instance " + std::to_string(r.index) + " (" +
          std::to_string(r.live->size()) + " events), differs from the final recovery (" +
          std::to_string(state.size()) + " events)");
    }
  }
  return v;
}

}  // namespace prevayler::model
