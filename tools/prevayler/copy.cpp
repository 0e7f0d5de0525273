// `prevayler copy`: copies the newest snapshot and the journal a recovery
// reads after it (`--all`: every snapshot and segment kept) into an empty
// destination, on either storage, positions preserved: a recovery there
// gives the same state. What a recovery would skip (a torn tail, a write
// cut off by a start record or a seal, an incomplete fragment sequence) is
// not copied. Stop the instances first: a copy is a point in time.
//
// The copy itself is ops::copy_journal (src/ops/copy_journal.hpp), which the
// model test runs too; this file adds the progress line and the summary.
#include <iostream>
#include <optional>

#include "ops/copy_journal.hpp"
#include "progress.hpp"
#include "tool.hpp"

namespace prevayler::tool {
namespace {

class ProgressObserver : public ops::CopyObserver {
 public:
  void started(std::uint64_t total_bytes) override { progress_.emplace("copying", total_bytes); }
  void copied(std::uint64_t entries, std::uint64_t bytes) override {
    if (progress_) progress_->add(entries, bytes);
  }
  void warning(const std::string& message) override {
    std::cerr << program << ": warning: " << message << " (not copied)\n";
  }
  void done() {
    if (progress_) progress_->done();
  }

 private:
  std::optional<Progress> progress_;
};

}  // namespace

int run_copy(const StorageFlags& from, const StorageFlags& to, const CopyOptions& options) {
  auto source = open_store(from)->source();
  auto destination = open_store(to)->destination();
  ProgressObserver observer;
  const ops::CopyJournalResult copied =
      ops::copy_journal(*source, *destination, ops::CopyJournalOptions{options.all}, observer);
  observer.done();
  std::cout << "copied " << copied.snapshots << " snapshots, " << copied.segments
            << " segments and " << copied.events << " events from " << source->describe() << " to "
            << destination->describe() << std::endl;
  return exit_ok;
}

}  // namespace prevayler::tool
