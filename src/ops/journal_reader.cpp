// The library's read-only journal reader (include/prevayler/journal_reader.hpp)
// on the operators' access layer.
#include "ops/journal_reader.hpp"

#include <iostream>

#include "core/entry_codec.hpp"
#include "ops/file_journal.hpp"

namespace prevayler::ops {
namespace {

class CallbackVisitor : public JournalVisitor {
 public:
  CallbackVisitor(const JournalEntryCallback& callback,
                  const std::function<void(const std::string&)>& warn)
      : callback_(callback), warn_(warn) {}
  void entry(const JournalPosition& position, std::string_view bytes) override {
    // Named only in a message: this runs once per entry.
    const auto where = [&] { return "journal position " + position.to_string(); };
    const detail::ParsedEntry parsed = detail::parse_entry(bytes, where);
    callback_(JournalEntryView{position, parsed.timestamp, parsed.state_hash, parsed.event,
                               parsed.schema_version});
  }
  void warning(const std::string& message) override {
    if (warn_) {
      warn_(message);
    } else {
      std::cerr << "prevayler: warning: " << message << std::endl;
    }
  }

 private:
  const JournalEntryCallback& callback_;
  const std::function<void(const std::string&)>& warn_;
};

}  // namespace

void read_all_entries(JournalSource& source, const JournalEntryCallback& callback,
                      const std::function<void(const std::string&)>& warn) {
  const std::vector<SegmentInfo> segments = source.segments();
  if (segments.empty()) return;
  CallbackVisitor visitor(callback, warn);
  source.read(segments.front().id, visitor);
}

}  // namespace prevayler::ops

namespace prevayler {

void read_journal_entries(const FileStorageOptions& storage, const JournalEntryCallback& callback) {
  auto source = ops::make_file_journal_source(
      storage.directory.string(), detail::posix_file_system(), storage.common.encryption);
  ops::read_all_entries(*source, callback, storage.common.warn);
}

}  // namespace prevayler
