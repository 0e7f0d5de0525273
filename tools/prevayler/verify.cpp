// `prevayler verify [--json]`: reads everything a recovery would read and
// everything older still kept, and reports each problem with its location.
// Read-only: it takes no lock and no ownership, so it may run beside a
// live instance. Exit 0 when clean (a torn tail is a warning), 1 otherwise.
#include <iostream>
#include <nlohmann/json.hpp>

#include "journal_stats.hpp"
#include "tool.hpp"

namespace prevayler::tool {

int run_verify(const StorageFlags& flags, const VerifyOptions& options) {
  auto source = open_source(flags);
  std::uint64_t total_bytes = 0;
  for (const auto& s : source->segments()) total_bytes += s.bytes;
  Progress progress("verifying", total_bytes);
  StatsVisitor stats(&progress);
  const std::vector<ops::Problem> problems = source->verify(stats);
  progress.done();
  std::uint64_t events = 0;
  for (const auto& [id, s] : stats.segments) events += s.events;
  const std::size_t snapshots = source->snapshots().size();

  if (options.json) {
    nlohmann::json j = {{"storage", source->describe()},
                        {"clean", problems.empty()},
                        {"snapshots", snapshots},
                        {"segments", stats.segments.size()},
                        {"events", events},
                        {"warnings", stats.warnings}};
    j["problems"] = nlohmann::json::array();
    for (const auto& p : problems) {
      j["problems"].push_back({{"location", p.location}, {"message", p.message}});
    }
    std::cout << j.dump() << std::endl;
  } else {
    for (const auto& w : stats.warnings) std::cout << "warning: " << w << "\n";
    for (const auto& p : problems) {
      // Most messages start with the location they name already.
      if (p.message.rfind(p.location, 0) == 0) {
        std::cout << "problem: " << p.message << "\n";
      } else {
        std::cout << "problem: " << p.location << ": " << p.message << "\n";
      }
    }
    std::cout << source->describe() << ": " << snapshots << " snapshots, " << stats.segments.size()
              << " segments with events, " << events << " events read; "
              << (problems.empty()       ? "clean"
                  : problems.size() == 1 ? "1 problem"
                                         : std::to_string(problems.size()) + " problems")
              << std::endl;
  }
  return problems.empty() ? exit_ok : exit_failure;
}

}  // namespace prevayler::tool
