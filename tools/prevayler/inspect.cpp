// `prevayler inspect [--json]`: the snapshots, each segment, the retention
// state and how many events a recovery would replay now.
#include <chrono>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "journal_stats.hpp"
#include "tool.hpp"

namespace prevayler::tool {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string age_text(std::int64_t ms) {
  const std::int64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s";
  if (s < 7200) return std::to_string(s / 60) + " min";
  if (s < 172800) return std::to_string(s / 3600) + " h";
  return std::to_string(s / 86400) + " days";
}

// What inspect reads, and what it derives from it.
struct Inspection {
  std::string storage;
  std::vector<ops::SnapshotInfo> snapshots;
  std::vector<ops::SegmentInfo> segments;
  std::map<std::uint64_t, SegmentStats> stats;
  std::vector<std::string> warnings;
  std::uint64_t events_to_replay = 0;
  std::uint64_t prunable_segments = 0;  // before the newest snapshot
};

Inspection read_inspection(ops::JournalSource& source) {
  Inspection in;
  in.storage = source.describe();
  in.snapshots = source.snapshots();
  in.segments = source.segments();
  std::uint64_t total_bytes = 0;
  for (const auto& s : in.segments) total_bytes += s.bytes;
  Progress progress("reading", total_bytes);
  StatsVisitor stats(&progress);
  if (!in.segments.empty()) source.read(in.segments.front().id, stats);
  progress.done();
  in.stats = std::move(stats.segments);
  in.warnings = std::move(stats.warnings);

  const std::optional<std::uint64_t> newest =
      in.snapshots.empty() ? std::nullopt : std::optional(in.snapshots.back().id);
  for (const auto& [id, s] : in.stats) {
    if (!newest || id >= *newest) in.events_to_replay += s.events;
  }
  for (const auto& s : in.segments) {
    if (newest && s.id < *newest) ++in.prunable_segments;
  }
  return in;
}

nlohmann::json snapshots_json(const Inspection& in, std::int64_t now) {
  nlohmann::json snapshots = nlohmann::json::array();
  for (const auto& s : in.snapshots) {
    nlohmann::json o = {{"id", s.id},
                        {"location", s.location},
                        {"bytes", s.bytes},
                        {"format_version", s.format_version},
                        {"compression", s.compressed ? "zstd" : "none"}};
    if (s.modified_ms) o["age_seconds"] = (now - *s.modified_ms) / 1000;
    snapshots.push_back(o);
  }
  return snapshots;
}

nlohmann::json segments_json(const Inspection& in) {
  nlohmann::json segments = nlohmann::json::array();
  for (const auto& s : in.segments) {
    const SegmentStats st = in.stats.count(s.id) ? in.stats.at(s.id) : SegmentStats{};
    nlohmann::json o = {
        {"id", s.id},          {"location", s.location}, {"records", st.records},
        {"events", st.events}, {"bytes", s.bytes},       {"ends", ops::to_string(s.end)}};
    o["first_event"] = st.first ? nlohmann::json(to_iso8601(*st.first)) : nlohmann::json();
    o["last_event"] = st.last ? nlohmann::json(to_iso8601(*st.last)) : nlohmann::json();
    segments.push_back(o);
  }
  return segments;
}

nlohmann::json inspection_json(const Inspection& in, std::int64_t now) {
  nlohmann::json j;
  j["storage"] = in.storage;
  j["snapshots"] = snapshots_json(in, now);
  j["segments"] = segments_json(in);
  j["retention"] = {{"snapshots_kept", in.snapshots.size()},
                    {"segments_kept", in.segments.size()},
                    {"segments_before_newest_snapshot", in.prunable_segments}};
  j["events_to_replay"] = in.events_to_replay;
  j["warnings"] = in.warnings;
  return j;
}

// The text form, its segment lines from the JSON form's.
void print_inspection(const Inspection& in, const nlohmann::json& j, std::int64_t now) {
  std::cout << in.storage << "\n";
  if (in.snapshots.empty()) std::cout << "no snapshot: recovery starts from the initial state\n";
  for (const auto& s : in.snapshots) {
    std::cout << "snapshot " << s.id << ": " << s.location << ", " << s.bytes << " bytes, format "
              << s.format_version << ", " << (s.compressed ? "zstd" : "uncompressed");
    if (s.modified_ms) std::cout << ", " << age_text(now - *s.modified_ms) << " old";
    std::cout << "\n";
  }
  for (const auto& o : j["segments"]) {
    std::cout << "segment " << o["id"].get<std::uint64_t>() << ": "
              << o["location"].get<std::string>() << ", " << o["records"].get<std::uint64_t>()
              << " records, " << o["events"].get<std::uint64_t>() << " events, "
              << o["bytes"].get<std::uint64_t>() << " bytes";
    if (!o["first_event"].is_null()) {
      std::cout << ", events " << o["first_event"].get<std::string>() << " to "
                << o["last_event"].get<std::string>();
    }
    std::cout << ", ends with " << o["ends"].get<std::string>() << "\n";
  }
  std::cout << "retention: " << in.snapshots.size() << " snapshots and " << in.segments.size()
            << " segments kept; " << in.prunable_segments
            << " segments lie before the newest snapshot (prune deletes what only older "
               "snapshots need)\n";
  for (const auto& w : in.warnings) std::cout << "warning: " << w << "\n";
  std::cout << "events_to_replay: " << in.events_to_replay << std::endl;
}

}  // namespace

int run_inspect(const StorageFlags& flags, const InspectOptions& options) {
  auto source = open_source(flags);
  const Inspection in = read_inspection(*source);
  const std::int64_t now = now_ms();
  const nlohmann::json j = inspection_json(in, now);
  if (options.json) {
    std::cout << j.dump() << std::endl;
    return exit_ok;
  }
  print_inspection(in, j, now);
  return exit_ok;
}

}  // namespace prevayler::tool
