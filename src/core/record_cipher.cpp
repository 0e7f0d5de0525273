#include "core/record_cipher.hpp"

#include "core/assert.hpp"
#include "core/bytes.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

std::string aad_of(std::string_view prefix, RecordPosition position) {
  std::string aad(prefix);
  put_u64(aad, position.segment);
  put_u64(aad, position.position);
  return aad;
}

}  // namespace

void encrypt_record(std::string& out, std::size_t start, const KeyRing& keys,
                    RecordPosition position) {
  PREVAYLER_ASSERT(keys.encrypts() && out.size() >= start + record_head_bytes);
  const std::string& id = keys.current_id();
  const std::shared_ptr<const Key> key = keys.key(id, "encrypting a journal record");
  std::string sealed;
  sealed.reserve(out.size() - start + encrypted_record_overhead_bytes + id.size());
  sealed.push_back(static_cast<char>(record_format_version_encrypted));
  sealed.push_back(static_cast<char>(RecordType::encrypted_batch));
  sealed.append(out, start + record_kind_bytes, writer_id_bytes);
  put_key_id(sealed, id);
  const std::string aad = aad_of(sealed, position);
  unsigned char nonce[gcm_nonce_bytes];
  random_bytes(nonce, sizeof nonce);
  sealed.append(reinterpret_cast<const char*>(nonce), sizeof nonce);
  gcm_seal(*key, std::string_view(sealed).substr(sealed.size() - gcm_nonce_bytes), aad,
           std::string_view(out).substr(start), sealed);
  out.resize(start);
  out += sealed;
}

SealedRecord parse_sealed_record(std::string_view payload, const std::string& where) {
  auto malformed = [&](const char* what) {
    return CorruptionError(where + ": encrypted journal record is malformed (" + what + ")");
  };
  SealedRecord record;
  if (payload.size() < record_head_bytes) throw malformed("truncated writer id");
  std::string_view rest = payload.substr(record_head_bytes);
  if (!get_key_id(rest, record.key_id)) throw malformed("bad key id");
  record.aad_prefix = payload.substr(0, payload.size() - rest.size());
  if (rest.size() < gcm_nonce_bytes + record_payload_bytes_min + gcm_tag_bytes) {
    throw malformed("shorter than a nonce, a record and a tag");
  }
  record.nonce = rest.substr(0, gcm_nonce_bytes);
  record.sealed = rest.substr(gcm_nonce_bytes);
  return record;
}

std::unique_ptr<char[]> open_sealed_record(const SealedRecord& record, const KeyRing* keys,
                                           RecordPosition position, const std::string& where,
                                           std::size_t& size) {
  const std::string key_id(record.key_id);
  const std::shared_ptr<const Key> key = key_for(keys, key_id, where);
  size = record.sealed.size() - gcm_tag_bytes;
  std::unique_ptr<char[]> plain(new char[size]);
  if (!gcm_open(*key, record.nonce, aad_of(record.aad_prefix, position), record.sealed,
                plain.get())) {
    throw DecryptionError(where + ": journal record encrypted under key id \"" + key_id +
                          "\" fails authentication: the key the provider gives for \"" + key_id +
                          "\" is not the one it was written with, or the record was altered or "
                          "moved; nothing of it was used");
  }
  return plain;
}

}  // namespace prevayler::detail
