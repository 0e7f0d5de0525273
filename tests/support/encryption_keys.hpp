// Key providers for the encryption tests: fixed 32-byte keys by id.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "prevayler/encryption.hpp"

namespace prevayler::testing {

// A 32-byte key made of one repeated byte: distinct per `fill`.
inline std::string test_key(char fill) { return std::string(encryption_key_bytes, fill); }

// Encrypts under `current` (empty: nothing new encrypted) with a provider
// that knows exactly `known` (id -> key).
inline EncryptionOptions test_encryption(std::string current,
                                         std::map<std::string, std::string> known) {
  EncryptionOptions o;
  o.current_key_id = std::move(current);
  o.key = [known = std::move(known)](const std::string& id) -> std::optional<std::string> {
    const auto found = known.find(id);
    if (found == known.end()) return std::nullopt;
    return found->second;
  };
  return o;
}

}  // namespace prevayler::testing
