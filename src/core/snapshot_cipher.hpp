// Encrypted snapshot bodies (flag snapshot_flag_encrypted, docs/format.md):
// the stored body, after compression, sealed with AES-256-GCM in chunks, as
// std::streambuf wrappers that hold one chunk at a time whatever the size
// of the state (snapshots can be GBs):
//
//   key id length k (1) | key id (k) | base nonce (12) |
//   chunk 0 | chunk 1 | ... | final chunk
//
// Each chunk seals snapshot_cipher_chunk_bytes of plaintext (the final one
// fewer, possibly none) and ends with its tag (16). Chunk i's nonce is the
// base nonce, random per snapshot (RAND_bytes), with i added into its last
// 8 bytes, so no nonce repeats under a key; its authenticated data is the
// snapshot's 28-byte header (magic, version, flags, id), the key id, i and a
// final flag, so chunks cannot be reordered, dropped, truncated at a chunk
// boundary, or moved to another snapshot. The trailer's CRC covers the
// stored (sealed) bytes, so it is checked without the key.
//
// Thread-safety: none; one thread uses a buffer at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <streambuf>
#include <string>

#include "core/encryption.hpp"

namespace prevayler::detail {

inline constexpr std::size_t snapshot_cipher_chunk_bytes = std::size_t{64} << 10;

// Seals what is written to it and writes the sealed body to `sink`. Call
// finish() once everything is written; the body is incomplete before. A
// failing sink makes overflow() return eof (the ostream then sets badbit)
// and finish() return false, so the sink can report its own error.
class EncryptBuffer : public std::streambuf {
 public:
  // `header`: the snapshot's container header (authenticated with every
  // chunk). REQUIRES: keys.encrypts(); `sink` and `keys` outlive this.
  EncryptBuffer(std::streambuf& sink, const KeyRing& keys, std::string header);
  ~EncryptBuffer() override;
  EncryptBuffer(const EncryptBuffer&) = delete;
  EncryptBuffer& operator=(const EncryptBuffer&) = delete;

  // Seals the final chunk. False when the sink refused bytes.
  bool finish();

 protected:
  int_type overflow(int_type ch) override;

 private:
  bool seal(bool final);

  std::streambuf& sink_;
  std::shared_ptr<const Key> key_;
  std::string prefix_;  // the stored key id
  std::string header_;
  std::string nonce_;
  std::string plain_;
  std::string sealed_;
  std::uint64_t chunk_ = 0;
  bool sink_failed_ = false;
  bool finished_ = false;
};

// Opens a sealed body pulled from `source`. A missing key or a chunk that
// fails authentication throws DecryptionError naming `resource` and the key
// id; a malformed body CorruptionError. Nothing unauthenticated is ever
// handed out: each chunk is checked before its bytes are readable.
class DecryptBuffer : public std::streambuf {
 public:
  // REQUIRES: `source` outlives this.
  DecryptBuffer(std::streambuf& source, const KeyRing* keys, std::string header,
                std::string resource);
  ~DecryptBuffer() override;
  DecryptBuffer(const DecryptBuffer&) = delete;
  DecryptBuffer& operator=(const DecryptBuffer&) = delete;

  // Opens whatever the reader did not consume, so that every chunk is
  // authenticated up to the final one, and checks the source ends there.
  void finish();

 protected:
  int_type underflow() override;

 private:
  void open_head();
  bool open_chunk();

  std::streambuf& source_;
  const KeyRing* keys_;
  std::string header_;
  std::string resource_;
  std::shared_ptr<const Key> key_;
  std::string key_id_;
  std::string prefix_;
  std::string nonce_;
  std::string sealed_;
  std::string plain_;
  std::uint64_t chunk_ = 0;
  bool head_done_ = false;
  bool final_done_ = false;
};

// What verify checks of a sealed body without the key: its key id and that
// its length is one the chunking gives. Reads `source` to its end. Throws
// CorruptionError naming `resource`; returns the key id.
std::string check_sealed_body(std::streambuf& source, const std::string& resource);

}  // namespace prevayler::detail
