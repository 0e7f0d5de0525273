// Recovery: the storage streams the snapshot and the journal after it into
// a Replayer, which rebuilds the state through the application's codecs
// and business function, checking the state hash when there is one.
#include <string>

#include "core/engine.hpp"
#include "core/entry_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

class Engine::Replayer : public RecoveryHandler {
 public:
  explicit Replayer(Engine& engine) : engine_(engine) {}

  void restart() override {
    engine_.head_ = engine_.hooks_.initial_state();
    engine_.stats_.snapshot_id = 0;
    engine_.stats_.events_replayed = 0;
  }

  void snapshot(std::uint64_t snapshot_id, std::istream& in) override {
    try {
      engine_.head_ = engine_.hooks_.decode_state(in);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw CodecError("cannot decode snapshot " + std::to_string(snapshot_id) + " from " +
                       engine_.storage_->describe() + ": " + e.what());
    }
    engine_.stats_.snapshot_id = snapshot_id;
  }

  void entry(const JournalPosition& position, std::string_view bytes) override {
    const std::string where = engine_.storage_->describe() + ", " + position.to_string();
    const ParsedEntry parsed = parse_entry(bytes, where);
    try {
      engine_.head_ = engine_.hooks_.replay(engine_.head_.get(), parsed.event, parsed.timestamp);
    } catch (const CodecError& e) {
      throw CodecError(where + ": " + e.what());
    } catch (const std::exception& e) {
      throw RecoveryError("the business function threw while replaying the event at " + where +
                          ": " + e.what() +
                          " (it accepted this event when it was handled: is it pure?)");
    }
    ++engine_.stats_.events_replayed;
    if (parsed.state_hash && engine_.hooks_.state_hash) {
      const std::uint64_t replayed = engine_.hooks_.state_hash(engine_.head_.get());
      if (replayed != *parsed.state_hash) {
        throw InconsistentStateError(
            "Inconsistent state detected: replaying the event at " + where + " (event " +
            std::to_string(engine_.stats_.events_replayed) +
            " of this recovery) produced state hash " + std::to_string(replayed) +
            ", the journal says " + std::to_string(*parsed.state_hash) +
            ". The business function is not pure, or its code changed the meaning of old "
            "events.");
      }
    }
  }

 private:
  Engine& engine_;
};

void Engine::recover() {
  head_ = hooks_.initial_state();
  Replayer replayer(*this);
  storage_->recover(replayer);
  durable_.store(head_, std::memory_order_release);
}

}  // namespace prevayler::detail
