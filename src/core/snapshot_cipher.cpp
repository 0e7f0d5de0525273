#include "core/snapshot_cipher.hpp"

#include <openssl/crypto.h>

#include "core/assert.hpp"
#include "core/bytes.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

constexpr std::size_t sealed_chunk_bytes = snapshot_cipher_chunk_bytes + gcm_tag_bytes;
// Bytes of the nonce that carry the chunk index.
constexpr std::size_t nonce_counter_offset = gcm_nonce_bytes - 8;

std::string chunk_nonce(const std::string& base, std::uint64_t chunk) {
  std::string nonce = base;
  std::uint64_t counter = get_u64(nonce.data() + nonce_counter_offset) + chunk;
  std::string bytes;
  put_u64(bytes, counter);
  nonce.replace(nonce_counter_offset, 8, bytes);
  return nonce;
}

std::string chunk_aad(const std::string& header, const std::string& prefix, std::uint64_t chunk,
                      bool final) {
  std::string aad = header + prefix;
  put_u64(aad, chunk);
  aad.push_back(final ? '\1' : '\0');
  return aad;
}

// Reads up to `size` bytes; fewer only at the end of the source.
std::size_t read_some(std::streambuf& source, char* out, std::size_t size) {
  std::size_t got = 0;
  // Every round reads at least one byte or ends.
  for (std::size_t round = 0; got < size; ++round) {
    PREVAYLER_ASSERT(round <= size);
    const std::streamsize n = source.sgetn(out + got, static_cast<std::streamsize>(size - got));
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

CorruptionError malformed(const std::string& resource, const std::string& what) {
  return CorruptionError(resource + ": encrypted snapshot body is malformed (" + what +
                         "); restore it from a backup");
}

// Reads the key id and base nonce at the front of a sealed body; returns
// the stored key id (length byte and id) in `prefix`.
void read_head(std::streambuf& source, const std::string& resource, std::string& prefix,
               std::string& key_id, std::string& nonce) {
  char length = 0;
  if (read_some(source, &length, 1) != 1 || length == 0) throw malformed(resource, "bad key id");
  key_id.resize(static_cast<unsigned char>(length));
  if (read_some(source, key_id.data(), key_id.size()) != key_id.size()) {
    throw malformed(resource, "truncated key id");
  }
  prefix.clear();
  put_key_id(prefix, key_id);
  nonce.resize(gcm_nonce_bytes);
  if (read_some(source, nonce.data(), nonce.size()) != nonce.size()) {
    throw malformed(resource, "truncated nonce");
  }
}

}  // namespace

EncryptBuffer::EncryptBuffer(std::streambuf& sink, const KeyRing& keys, std::string header)
    : sink_(sink), header_(std::move(header)) {
  PREVAYLER_ASSERT(keys.encrypts());
  key_ = keys.key(keys.current_id(), "encrypting a snapshot");
  put_key_id(prefix_, keys.current_id());
  nonce_.resize(gcm_nonce_bytes);
  random_bytes(reinterpret_cast<unsigned char*>(nonce_.data()), nonce_.size());
  const std::string head = prefix_ + nonce_;
  sink_failed_ = sink_.sputn(head.data(), static_cast<std::streamsize>(head.size())) !=
                 static_cast<std::streamsize>(head.size());
  plain_.resize(snapshot_cipher_chunk_bytes);
  setp(plain_.data(), plain_.data() + plain_.size());
}

EncryptBuffer::~EncryptBuffer() {
  // The state's bytes in the clear: not left behind in freed memory.
  OPENSSL_cleanse(plain_.data(), plain_.size());
}

bool EncryptBuffer::seal(bool final) {
  if (sink_failed_) return false;
  const std::string_view plain(pbase(), static_cast<std::size_t>(pptr() - pbase()));
  PREVAYLER_ASSERT(final ? plain.size() < snapshot_cipher_chunk_bytes
                         : plain.size() == snapshot_cipher_chunk_bytes);
  sealed_.clear();
  gcm_seal(*key_, chunk_nonce(nonce_, chunk_), chunk_aad(header_, prefix_, chunk_, final), plain,
           sealed_);
  ++chunk_;
  setp(plain_.data(), plain_.data() + plain_.size());
  sink_failed_ = sink_.sputn(sealed_.data(), static_cast<std::streamsize>(sealed_.size())) !=
                 static_cast<std::streamsize>(sealed_.size());
  return !sink_failed_;
}

EncryptBuffer::int_type EncryptBuffer::overflow(int_type ch) {
  PREVAYLER_ASSERT(!finished_);
  // The put area is full and more comes: a full chunk, not the final one.
  if (pptr() == epptr() && !seal(false)) return traits_type::eof();
  if (ch != traits_type::eof()) {
    *pptr() = static_cast<char>(ch);
    pbump(1);
  }
  return traits_type::not_eof(ch);
}

bool EncryptBuffer::finish() {
  PREVAYLER_ASSERT(!finished_);
  finished_ = true;
  // The final chunk is never full, so a reader knows it by its length.
  if (pptr() == epptr() && !seal(false)) return false;
  return seal(true);
}

DecryptBuffer::DecryptBuffer(std::streambuf& source, const KeyRing* keys, std::string header,
                             std::string resource)
    : source_(source), keys_(keys), header_(std::move(header)), resource_(std::move(resource)) {}

DecryptBuffer::~DecryptBuffer() { OPENSSL_cleanse(plain_.data(), plain_.size()); }

void DecryptBuffer::open_head() {
  read_head(source_, resource_, prefix_, key_id_, nonce_);
  key_ = key_for(keys_, key_id_, resource_ + " (snapshot)");
  head_done_ = true;
}

bool DecryptBuffer::open_chunk() {
  if (!head_done_) open_head();
  if (final_done_) return false;
  sealed_.resize(sealed_chunk_bytes);
  sealed_.resize(read_some(source_, sealed_.data(), sealed_.size()));
  if (sealed_.size() < gcm_tag_bytes) {
    throw malformed(resource_, "chunk " + std::to_string(chunk_) + " is shorter than its tag");
  }
  // A full chunk is the final one only if nothing follows it: then the
  // writer did not write it as final, and its tag says so.
  const bool final =
      sealed_.size() < sealed_chunk_bytes || source_.sgetc() == std::streambuf::traits_type::eof();
  plain_.resize(sealed_.size() - gcm_tag_bytes);
  if (!gcm_open(*key_, chunk_nonce(nonce_, chunk_), chunk_aad(header_, prefix_, chunk_, final),
                sealed_, plain_.data())) {
    throw DecryptionError(resource_ + ": snapshot encrypted under key id \"" + key_id_ +
                          "\": chunk " + std::to_string(chunk_) +
                          " fails authentication: the key the provider gives for \"" + key_id_ +
                          "\" is not the one it was written with, or the snapshot was altered or "
                          "truncated; nothing of it was used");
  }
  ++chunk_;
  final_done_ = final;
  setg(plain_.data(), plain_.data(), plain_.data() + plain_.size());
  return true;
}

DecryptBuffer::int_type DecryptBuffer::underflow() {
  // Every chunk but the final one is full: the second round has bytes or
  // has seen the final chunk.
  for (int round = 0;; ++round) {
    PREVAYLER_ASSERT(round < 3);
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (!open_chunk()) return traits_type::eof();
  }
}

void DecryptBuffer::finish() {
  // Opens (and so authenticates) every chunk the reader left.
  while (underflow() != traits_type::eof()) setg(egptr(), egptr(), egptr());
  if (source_.sgetc() != traits_type::eof()) {
    throw malformed(resource_, "bytes after the final chunk");
  }
}

std::string check_sealed_body(std::streambuf& source, const std::string& resource) {
  std::string prefix;
  std::string key_id;
  std::string nonce;
  read_head(source, resource, prefix, key_id, nonce);
  std::string buffer(sealed_chunk_bytes, '\0');
  std::uint64_t chunks = 0;
  // Bounded by the source's length: every round reads a whole chunk or ends.
  for (;; ++chunks) {
    const std::size_t got = read_some(source, buffer.data(), buffer.size());
    const bool final = got < buffer.size() || source.sgetc() == std::streambuf::traits_type::eof();
    if (!final) continue;
    if (got < gcm_tag_bytes || got == buffer.size()) {
      throw malformed(resource, "chunk " + std::to_string(chunks) +
                                    (got < gcm_tag_bytes ? " is shorter than its tag"
                                                         : " is full but nothing follows it"));
    }
    return key_id;
  }
}

}  // namespace prevayler::detail
