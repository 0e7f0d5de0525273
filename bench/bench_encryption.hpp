// --encrypt in the bench programs: records and snapshots sealed with
// AES-256-GCM under one fixed key (docs/encryption.md). What is measured is
// the cipher, not a key store.
#pragma once

#include <optional>
#include <string>

#include "prevayler/encryption.hpp"

namespace bench {

inline prevayler::EncryptionOptions fixed_key_encryption() {
  prevayler::EncryptionOptions e;
  e.current_key_id = "bench";
  e.key = [](const std::string&) -> std::optional<std::string> {
    return std::string(prevayler::encryption_key_bytes, 'k');
  };
  return e;
}

}  // namespace bench
