// Encryption at rest (docs/encryption.md): journal records and snapshots
// sealed with AES-256-GCM after compression, each under a key id recorded
// beside the data, so keys rotate and old data stays readable with old keys.
//
//   prevayler::StorageOptions common;
//   common.encryption.current_key_id = "2026-12";
//   common.encryption.key = [](const std::string& id) -> std::optional<std::string> {
//     return my_kms_fetch(id);  // 32 bytes, or nullopt for an unknown id
//   };
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace prevayler {

// Bytes of an AES-256 key, and the longest key id (it is stored with every
// encrypted record and snapshot, as one length byte and the id).
inline constexpr std::size_t encryption_key_bytes = 32;
inline constexpr std::size_t encryption_key_id_bytes_max = 255;

struct EncryptionOptions {
  // The key new journal records and snapshots are encrypted under. Empty:
  // nothing new is encrypted (encrypted data already stored is still read,
  // with `key`). 1 to encryption_key_id_bytes_max bytes; not a secret (it is
  // stored in the clear and appears in error messages).
  std::string current_key_id;
  // Returns the key (encryption_key_bytes bytes) for a key id, or nullopt
  // when it has none. Called on the storage's threads (recovery, the writer,
  // snapshots), possibly from several at once, and cached per storage for
  // its lifetime; it must not call back into the storage. Required when
  // current_key_id is set (ConfigError otherwise). The library never logs or
  // prints a key, and wipes its copies (OPENSSL_cleanse) when done.
  std::function<std::optional<std::string>(const std::string& key_id)> key;
};

}  // namespace prevayler
