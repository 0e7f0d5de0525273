// The file storage's journal for operators: a read-only JournalSource over
// a storage directory and a JournalDestination that lays a journal down in
// an empty one (src/ops/journal_access.hpp), and the JournalStore of both.
#pragma once

#include <memory>
#include <string>

#include "file/file_system.hpp"
#include "ops/journal_access.hpp"
#include "prevayler/encryption.hpp"

namespace prevayler::ops {

// Reads `directory` without locking it: safe beside a live instance.
// `encryption`: the keys of an encrypted journal. Without a provider, read
// and snapshot_bytes stop at encrypted data with DecryptionError, and
// verify checks encrypted records and snapshots without opening them
// (docs/encryption.md).
std::unique_ptr<JournalSource> make_file_journal_source(
    std::string directory, std::shared_ptr<detail::FileSystem> fs = detail::posix_file_system(),
    EncryptionOptions encryption = {});

// Writes into `directory`, created when missing; check_empty() refuses one
// that holds any entry.
std::unique_ptr<JournalDestination> make_file_journal_destination(
    std::string directory, std::shared_ptr<detail::FileSystem> fs = detail::posix_file_system());

// The directory as a JournalStore: its source and destination above, and
// the file storage's prune (detail::prune_file_storage). `encryption`: the
// source's keys, as make_file_journal_source's.
std::unique_ptr<JournalStore> make_file_journal_store(
    std::string directory, std::shared_ptr<detail::FileSystem> fs = detail::posix_file_system(),
    EncryptionOptions encryption = {});

}  // namespace prevayler::ops
