// Replay over two threads: a reader thread runs a storage's replay (reads,
// frame checks, decompression, record decoding) into a bounded queue of
// entry batches, while the calling thread applies them to the handler, so
// the event codec and the business function overlap the reading.
//
// What the handler sees does not change: the same entries, in journal
// order, then the same warnings at the same places, and the reader's
// error, if any, after every entry it delivered before it (so a corrupt
// record stops the replay at the same position with the same error). The
// queue holds at most replay_queue_batches_max batches of about
// replay_batch_bytes_max bytes each. The reader thread is joined before
// replay_pipelined returns or throws, including when the handler throws
// (the reader then stops at its next entry).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "prevayler/storage.hpp"

namespace prevayler::detail {

// Bytes of entries a batch collects before the reader hands it over (an
// entry larger than that makes a batch of one).
inline constexpr std::size_t replay_batch_bytes_max = std::size_t{256} << 10;
// Batches in the queue, full or being filled: the reader gets at most this
// far ahead of the handler.
inline constexpr std::size_t replay_queue_batches_max = 4;

using ReplayWarn = std::function<void(const std::string&)>;

// Runs `produce(sink, warn)` on a reader thread; it must deliver only
// entries to `sink` (no snapshot, no restart) and may call `warn`. Applies
// them to `target` and passes the warnings to `warn` on the calling thread,
// then rethrows what `produce` threw. Anything `target` throws is rethrown
// once the reader thread has stopped. `produce` must not touch what the
// handler touches: both run at the same time.
void replay_pipelined(
    const std::function<void(RecoveryHandler& sink, const ReplayWarn& warn)>& produce,
    RecoveryHandler& target, const ReplayWarn& warn);

}  // namespace prevayler::detail
