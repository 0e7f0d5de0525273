// Encrypted journal records (type 7, docs/format.md): a batch record, or a
// compressed one, sealed with AES-256-GCM after compression, under a key id
// stored beside it.
//
//   version 4 | type 7 | writer id (8) | key id length k (1) | key id (k) |
//   nonce (12) | ciphertext of the whole inner record | tag (16)
//
// The nonce is random (RAND_bytes) for every record: a record rewritten at
// the same position (a torn tail written again) never reuses one. The
// authenticated data is everything before the nonce plus the record's
// position (segment, offset or order), so a record cannot be moved to
// another place, segment or journal position and still open. The storage's
// CRC (file frame) covers the stored bytes, so it is checked without the key.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/encryption.hpp"
#include "core/record_codec.hpp"

namespace prevayler::detail {

// Bytes an encrypted record adds to the record it seals, besides the key id.
inline constexpr std::size_t encrypted_record_overhead_bytes =
    record_head_bytes + 1 + gcm_nonce_bytes + gcm_tag_bytes;
// The largest encrypted record's overhead, for the limits of the storages.
inline constexpr std::size_t encrypted_record_overhead_bytes_max =
    encrypted_record_overhead_bytes + encryption_key_id_bytes_max;

// Rewrites the batch or compressed batch record that starts at out[start]
// and runs to the end of `out` as an encrypted record under the current key
// of `keys`, bound to `position`. REQUIRES: keys.encrypts().
void encrypt_record(std::string& out, std::size_t start, const KeyRing& keys,
                    RecordPosition position);

// The parts of an encrypted record (views into its payload).
struct SealedRecord {
  std::string_view key_id;
  std::string_view aad_prefix;  // the bytes before the nonce
  std::string_view nonce;
  std::string_view sealed;  // ciphertext, then tag
};

// Checks the structure of an encrypted record's payload (what verify can
// check without the key); throws CorruptionError naming `where`.
SealedRecord parse_sealed_record(std::string_view payload, const std::string& where);

// Decrypts a parsed record into a new buffer of `size` bytes: the inner
// record. Throws DecryptionError naming `where` and the key id when there
// is no key for it or its tag does not match.
std::unique_ptr<char[]> open_sealed_record(const SealedRecord& record, const KeyRing* keys,
                                           RecordPosition position, const std::string& where,
                                           std::size_t& size);

}  // namespace prevayler::detail
