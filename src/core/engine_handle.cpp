// EngineHandle: the template's forwarding calls into the private engine.
#include "prevayler/detail/engine_handle.hpp"

#include "core/engine.hpp"

namespace prevayler::detail {

EngineHandle::EngineHandle(EngineHooks hooks, std::unique_ptr<Storage> storage, EngineLimits limits,
                           bool snapshot_on_open, SnapshotPolicy policy, AnyState resume_state)
    : engine_(std::make_unique<Engine>(std::move(hooks), std::move(storage), limits,
                                       snapshot_on_open, policy, std::move(resume_state))) {}

EngineHandle::~EngineHandle() = default;

AnyState EngineHandle::handle(const void* event, std::string encoded) {
  return engine_->handle(event, std::move(encoded));
}

void EngineHandle::handle_async(const void* event, std::string encoded, Completion completion) {
  engine_->handle_async(event, std::move(encoded), std::move(completion));
}

AnyState EngineHandle::state() const { return engine_->state(); }

const void* EngineHandle::current_state() const { return engine_->current_state(); }

void EngineHandle::snapshot() { engine_->snapshot(); }

void EngineHandle::close() { engine_->close(); }

Timestamp EngineHandle::timestamp() const { return engine_->timestamp(); }

Stats EngineHandle::stats() const { return engine_->stats(); }

}  // namespace prevayler::detail

namespace prevayler::detail {

Metrics EngineHandle::metrics() const { return engine_->metrics(); }

JournalPosition EngineHandle::position() const { return engine_->position(); }

}  // namespace prevayler::detail
