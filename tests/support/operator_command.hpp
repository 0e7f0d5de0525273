// What the tests of the `prevayler` command share on both storages: running
// the built binary, one journal history written through the library, and
// the checks of what inspect and dump report about it.
#pragma once

#include <gtest/gtest.h>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/vector.hpp>  // Events: without it Prevayler<Events> has no codec
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "prevayler/prevayler.hpp"
#include "support/run_program.hpp"

#ifdef PREVAYLER_TOOL
namespace prevayler::testing::tool_testing {

using Events = std::vector<std::int64_t>;
using P = Prevayler<Events, std::int64_t>;
using StorageFactory = std::function<std::unique_ptr<Storage>()>;

inline RunResult tool(std::vector<std::string> args, const Environment& environment = {}) {
  args.insert(args.begin(), PREVAYLER_TOOL);
  return run(args, environment);
}

// Each of `mistakes` is a usage error: exit 2, the command's error prefix,
// and a pointer to its help.
template <class Tool>
void expect_usage_errors(const Tool& tool, const std::vector<std::vector<std::string>>& mistakes) {
  for (const auto& args : mistakes) {
    const RunResult r = tool(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.status, 2) << joined << ": " << describe(r);
    EXPECT_EQ(r.err.rfind("prevayler: error: ", 0), 0u) << joined << ": " << describe(r);
    EXPECT_NE(r.err.find("prevayler help"), std::string::npos) << describe(r);
  }
}

inline std::uint64_t events_hash(const Events& events) {
  std::uint64_t h = 1469598103934665603ull;
  for (const std::int64_t e : events) h = (h ^ static_cast<std::uint64_t>(e)) * 1099511628211ull;
  return h;
}

inline P::Options options(const StorageFactory& storage) {
  P::Options o;
  o.business = [](const Events& state, const std::int64_t& e, Timestamp) {
    Events next = state;
    next.push_back(e);
    return next;
  };
  o.state_hash = events_hash;
  o.storage = storage();
  return o;
}

// Three events, a snapshot, two events; then another open and one event:
// each handle() is its own group commit, so every event is one record.
inline void write_history(const StorageFactory& storage) {
  {
    P p(options(storage));
    for (std::int64_t e : {1, 2, 3}) p.handle(e);
    p.snapshot();
    for (std::int64_t e : {4, 5}) p.handle(e);
    p.close();
  }
  P p(options(storage));
  p.handle(6);
  p.close();
}

inline Events history_state() { return {1, 2, 3, 4, 5, 6}; }

inline Events recover(const StorageFactory& storage) {
  P p(options(storage));
  Events state = *p.state();
  p.close();
  return state;
}

// inspect --json of write_history's journal.
inline void expect_history_counts(const nlohmann::json& j) {
  std::uint64_t events = 0;
  for (const auto& s : j["segments"]) {
    events += s["events"].get<std::uint64_t>();
    EXPECT_EQ(s["records"], s["events"]) << s;  // one event per group commit
    if (s["events"].get<std::uint64_t>() > 0) {
      EXPECT_TRUE(s["first_event"].is_string()) << s;
      EXPECT_LE(s["first_event"].get<std::string>(), s["last_event"].get<std::string>());
    }
  }
  EXPECT_EQ(events, 6u) << j;
  // The last open snapshotted the state after event 5: one event to replay.
  EXPECT_EQ(j["events_to_replay"], 1) << j;
  EXPECT_EQ(j["segments"].back()["events"], 1) << j;
  EXPECT_FALSE(j["snapshots"].empty()) << j;
}

inline std::string base64_decode(const std::string& text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    if (c == '=') break;
    bits = (bits << 6) | static_cast<std::uint32_t>(alphabet.find(c));
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

// dump --json of write_history's journal: every event, decoded, in order,
// with its state hash.
inline void expect_dump_of_history(const std::string& out) {
  std::istringstream lines(out);
  Events events;
  std::vector<std::string> positions;
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    std::istringstream bytes(base64_decode(j["event"].get<std::string>()));
    cereal::PortableBinaryInputArchive archive(bytes);
    std::int64_t event = 0;
    archive(event);
    events.push_back(event);
    EXPECT_EQ(j["bytes"].get<std::size_t>(), base64_decode(j["event"].get<std::string>()).size());
    const Events history = history_state();
    const Events state(history.begin(),
                       history.begin() + static_cast<std::ptrdiff_t>(events.size()));
    char hash[24];
    std::snprintf(hash, sizeof hash, "%016llx",
                  static_cast<unsigned long long>(events_hash(state)));
    EXPECT_EQ(j["state_hash"], std::string(hash)) << line;
    EXPECT_EQ(j["timestamp"].get<std::string>().back(), 'Z') << line;
    positions.push_back(j["position"].get<std::string>());
  }
  EXPECT_EQ(events, history_state()) << out;
}

}  // namespace prevayler::testing::tool_testing
#endif  // PREVAYLER_TOOL
