// `prevayler inspect [--json]`: the snapshots, each segment, the retention
// state and how many events a recovery would replay now.
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

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

}  // namespace

int run_inspect(const StorageFlags& flags, const InspectOptions& options) {
  auto source = open_source(flags);
  const std::vector<ops::SnapshotInfo> snapshots = source->snapshots();
  const std::vector<ops::SegmentInfo> segments = source->segments();
  std::uint64_t total_bytes = 0;
  for (const auto& s : segments) total_bytes += s.bytes;
  Progress progress("reading", total_bytes);
  StatsVisitor stats(&progress);
  if (!segments.empty()) source->read(segments.front().id, stats);
  progress.done();

  const std::optional<std::uint64_t> newest =
      snapshots.empty() ? std::nullopt : std::optional(snapshots.back().id);
  std::uint64_t events_to_replay = 0;
  std::uint64_t prunable_segments = 0;
  for (const auto& [id, s] : stats.segments) {
    if (!newest || id >= *newest) events_to_replay += s.events;
  }
  for (const auto& s : segments) {
    if (newest && s.id < *newest) ++prunable_segments;
  }
  const std::int64_t now = now_ms();

  nlohmann::json j;
  j["storage"] = source->describe();
  j["snapshots"] = nlohmann::json::array();
  for (const auto& s : snapshots) {
    nlohmann::json o = {{"id", s.id},
                        {"location", s.location},
                        {"bytes", s.bytes},
                        {"format_version", s.format_version},
                        {"compression", s.compressed ? "zstd" : "none"}};
    if (s.modified_ms) o["age_seconds"] = (now - *s.modified_ms) / 1000;
    j["snapshots"].push_back(o);
  }
  j["segments"] = nlohmann::json::array();
  for (const auto& s : segments) {
    const SegmentStats st = stats.segments.count(s.id) ? stats.segments.at(s.id) : SegmentStats{};
    nlohmann::json o = {
        {"id", s.id},          {"location", s.location}, {"records", st.records},
        {"events", st.events}, {"bytes", s.bytes},       {"ends", ops::to_string(s.end)}};
    o["first_event"] = st.first ? nlohmann::json(iso8601(*st.first)) : nlohmann::json();
    o["last_event"] = st.last ? nlohmann::json(iso8601(*st.last)) : nlohmann::json();
    j["segments"].push_back(o);
  }
  j["retention"] = {{"snapshots_kept", snapshots.size()},
                    {"segments_kept", segments.size()},
                    {"segments_before_newest_snapshot", prunable_segments}};
  j["events_to_replay"] = events_to_replay;
  j["warnings"] = stats.warnings;

  if (options.json) {
    std::cout << j.dump() << std::endl;
    return exit_ok;
  }
  std::cout << source->describe() << "\n";
  if (snapshots.empty()) std::cout << "no snapshot: recovery starts from the initial state\n";
  for (const auto& s : snapshots) {
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
  std::cout << "retention: " << snapshots.size() << " snapshots and " << segments.size()
            << " segments kept; " << prunable_segments
            << " segments lie before the newest snapshot (prune deletes what only older "
               "snapshots need)\n";
  for (const auto& w : stats.warnings) std::cout << "warning: " << w << "\n";
  std::cout << "events_to_replay: " << events_to_replay << std::endl;
  return exit_ok;
}

}  // namespace prevayler::tool
