// Snapshot files (docs/format.md, "Snapshot"): written under a temporary
// name, synced, renamed, the directory synced; read with the whole body
// checked against its CRC before the codec sees a byte.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/encryption.hpp"
#include "file/segment_files.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

// compression_level: a zstd level, or nullopt to store the state as it is.
// `keys`: encrypt under its current key (after compression), or null not
// to; it must outlive the writer. The header records `state_schema_version`.
// `on_committed` runs once the snapshot is durable (retention).
std::unique_ptr<SnapshotWriter> make_snapshot_writer(Directory& directory, std::uint64_t id,
                                                     std::optional<int> compression_level,
                                                     const KeyRing* keys,
                                                     std::uint32_t state_schema_version,
                                                     std::function<void()> on_committed);

// Delivers snapshot `id` at `path`, with the state schema version its
// header records, to the handler. Throws FileVanished when
// the file is gone, CorruptionError when it is damaged, DecryptionError when
// it is encrypted and `decryption` cannot open it. With
// decryption.check_only an encrypted snapshot is checked (CRC, structure)
// and not delivered.
void read_snapshot(FileSystem& fs, std::uint64_t id, const std::string& path,
                   RecoveryHandler& handler, const Decryption& decryption = {});

// Throws CorruptionError when a header's id differs from the file name's.
void check_id(std::uint64_t found, std::uint64_t expected, const std::string& path,
              const char* what);

}  // namespace prevayler::detail
