// The keys of one storage and AES-256-GCM on OpenSSL's EVP interface: what
// the encrypted journal records (record_cipher) and snapshots
// (snapshot_cipher) are built on. Formats: docs/format.md; design and key
// rotation: docs/encryption.md.
//
// Keys never leave this unit's types: they are not printed or logged, and
// are wiped (OPENSSL_cleanse) when the last user drops them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "prevayler/encryption.hpp"

namespace prevayler::detail {

inline constexpr std::size_t gcm_nonce_bytes = 12;
inline constexpr std::size_t gcm_tag_bytes = 16;

// One AES-256 key, wiped when destroyed. Move-free: shared by pointer.
class Key {
 public:
  explicit Key(std::string_view bytes);
  ~Key();
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  const unsigned char* data() const noexcept { return bytes_.data(); }

 private:
  std::array<unsigned char, encryption_key_bytes> bytes_{};
};

// The keys of one storage, from StorageOptions::encryption. Thread-safe:
// the writer, recovery and snapshot threads share it.
class KeyRing {
 public:
  // Throws ConfigError, prefixed with `owner`, when current_key_id is set
  // without a provider, or is longer than encryption_key_id_bytes_max.
  KeyRing(EncryptionOptions options, std::string owner);
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // True when new records and snapshots are encrypted.
  bool encrypts() const noexcept { return !options_.current_key_id.empty(); }
  const std::string& current_id() const noexcept { return options_.current_key_id; }
  // True when a key provider is set, so encrypted data can be opened.
  bool has_provider() const noexcept { return static_cast<bool>(options_.key); }

  // The key for `id`, asked of the provider once and cached. Throws
  // DecryptionError naming `where` and the key id when there is no provider
  // or it has no such key, ConfigError when the key is not
  // encryption_key_bytes long.
  std::shared_ptr<const Key> key(const std::string& id, const std::string& where) const;

 private:
  EncryptionOptions options_;
  std::string owner_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const Key>> cache_;
};

// The key for `id` from `keys`, which may be null (no keys configured):
// then, as when the ring has no provider, a DecryptionError naming `where`
// and the id says so.
std::shared_ptr<const Key> key_for(const KeyRing* keys, const std::string& id,
                                   const std::string& where);

// How a reader treats encrypted records and snapshots.
struct Decryption {
  // The storage's keys. Null: none configured, so encrypted data is a
  // DecryptionError saying so.
  const KeyRing* keys = nullptr;
  // `prevayler verify` without the key: the structure of encrypted data is
  // checked (the frames and CRCs around it are checked as always), none of
  // its content is delivered.
  bool check_only = false;
};

// Fills `out` with cryptographically random bytes (nonces). Throws
// StorageError when the generator fails.
void random_bytes(unsigned char* out, std::size_t size);

// Appends the AES-256-GCM encryption of `plaintext` and its tag
// (gcm_tag_bytes) to `out`. REQUIRES: nonce has gcm_nonce_bytes bytes.
void gcm_seal(const Key& key, std::string_view nonce, std::string_view aad,
              std::string_view plaintext, std::string& out);

// Decrypts `sealed` (ciphertext, then the tag) into `out`, which has room
// for sealed.size() - gcm_tag_bytes bytes. False when the tag does not
// match: then `out` holds nothing to use. REQUIRES: sealed has at least
// gcm_tag_bytes bytes; nonce has gcm_nonce_bytes bytes.
bool gcm_open(const Key& key, std::string_view nonce, std::string_view aad, std::string_view sealed,
              char* out);

// Appends the stored form of a key id: its length (1 byte), then the id.
// REQUIRES: 1 <= id.size() <= encryption_key_id_bytes_max.
void put_key_id(std::string& out, std::string_view id);
// Reads a key id stored by put_key_id from the front of `in`, advancing
// it; false when `in` is too short or the length is 0.
bool get_key_id(std::string_view& in, std::string_view& id);

}  // namespace prevayler::detail
