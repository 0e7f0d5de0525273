// Compiles only while the public headers keep the engine private: it
// includes every public header, with nothing but include/ on the include
// path, and then defines the library's private types itself. If a public
// header publishes one of them again (the engine with its threads, locks
// and queues, the writes-in-flight tuner, the in-memory store's contents),
// these definitions collide with it and the build fails here.
#include <prevayler/aws_storage.hpp>
#include <prevayler/codec.hpp>
#include <prevayler/encryption.hpp>
#include <prevayler/error.hpp>
#include <prevayler/file_storage.hpp>
#include <prevayler/follower.hpp>
#include <prevayler/memory_storage.hpp>
#include <prevayler/metrics.hpp>
#include <prevayler/prevayler.hpp>
#include <prevayler/progress.hpp>
#include <prevayler/prometheus.hpp>
#include <prevayler/stats.hpp>
#include <prevayler/storage.hpp>
#include <prevayler/storage_options.hpp>
#include <prevayler/timestamp.hpp>

namespace prevayler::detail {
class Engine {};                // src/core/engine.hpp
class FollowerCore {};          // src/core/follower.cpp
class GroupCommitLinger {};     // src/core/group_commit_linger.hpp
class WritesInFlightTuner {};   // src/core/writes_in_flight_tuner.hpp
struct MemoryStoreContents {};  // src/core/memory_storage.cpp
}  // namespace prevayler::detail

int main() {
  // The handle is all the template holds.
  static_assert(sizeof(prevayler::detail::EngineHandle) == sizeof(void*));
  static_assert(sizeof(prevayler::detail::FollowerHandle) == sizeof(void*));
  return 0;
}
