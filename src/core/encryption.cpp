#include "core/encryption.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>

#include "core/assert.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

struct CipherContext {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherContext() { EVP_CIPHER_CTX_free(ctx); }
};

// One context per thread: records are sealed and opened one after the
// other, and a context costs more to create than a small record to seal.
EVP_CIPHER_CTX* thread_context() {
  thread_local CipherContext holder;
  if (!holder.ctx) throw std::bad_alloc();
  EVP_CIPHER_CTX_reset(holder.ctx);
  return holder.ctx;
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// OpenSSL takes int lengths: larger inputs go through in slices.
constexpr std::size_t evp_slice_bytes = std::size_t{1} << 30;
static_assert(evp_slice_bytes <= static_cast<std::size_t>(INT_MAX));

[[noreturn]] void throw_no_provider(const std::string& where, const std::string& id) {
  throw DecryptionError(where + ": encrypted under key id \"" + id +
                        "\", but no key provider is configured; set "
                        "StorageOptions::encryption.key to one that has this key");
}

[[noreturn]] void evp_failed(const char* step) {
  throw StorageError(std::string("AES-256-GCM: OpenSSL failed to ") + step);
}

// Feeds `in` through the cipher in slices OpenSSL's int lengths take;
// `out` null: authenticated data only. Returns the bytes written to `out`.
std::size_t update(EVP_CIPHER_CTX* ctx, unsigned char* out, std::string_view in) {
  std::size_t written = 0;
  for (std::size_t at = 0; at < in.size(); at += evp_slice_bytes) {
    const std::string_view part = in.substr(at, evp_slice_bytes);
    int n = 0;
    if (EVP_CipherUpdate(ctx, out ? out + written : nullptr, &n, bytes(part),
                         static_cast<int>(part.size())) != 1) {
      evp_failed(out ? "encrypt or decrypt" : "authenticate");
    }
    if (out) written += static_cast<std::size_t>(n);
  }
  return written;
}

// This thread's context, set up for AES-256-GCM with `key` and `nonce`, in
// the direction `encrypt` says, with `aad` authenticated.
EVP_CIPHER_CTX* start(const Key& key, std::string_view nonce, std::string_view aad, bool encrypt) {
  EVP_CIPHER_CTX* ctx = thread_context();
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), bytes(nonce),
                        encrypt ? 1 : 0) != 1) {
    evp_failed(encrypt ? "start encrypting" : "start decrypting");
  }
  (void)update(ctx, nullptr, aad);
  return ctx;
}

}  // namespace

Key::Key(std::string_view bytes) {
  PREVAYLER_ASSERT(bytes.size() == bytes_.size());
  std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}

Key::~Key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

KeyRing::KeyRing(EncryptionOptions options, std::string owner)
    : options_(std::move(options)), owner_(std::move(owner)) {
  if (options_.current_key_id.size() > encryption_key_id_bytes_max) {
    throw ConfigError(owner_ + ": encryption.current_key_id has " +
                      std::to_string(options_.current_key_id.size()) + " bytes, at most " +
                      std::to_string(encryption_key_id_bytes_max) + " are stored");
  }
  if (encrypts() && !options_.key) {
    throw ConfigError(owner_ + ": encryption.current_key_id is \"" + options_.current_key_id +
                      "\" but encryption.key (the key provider) is not set");
  }
}

std::shared_ptr<const Key> KeyRing::key(const std::string& id, const std::string& where) const {
  std::lock_guard lock(mutex_);
  if (auto found = cache_.find(id); found != cache_.end()) return found->second;
  if (!options_.key) throw_no_provider(where, id);
  std::optional<std::string> bytes = options_.key(id);
  if (!bytes) {
    throw DecryptionError(where + ": encrypted under key id \"" + id +
                          "\", which the key provider does not have; give it that key (old "
                          "keys must stay available while data encrypted under them is kept)");
  }
  const std::size_t size = bytes->size();
  std::shared_ptr<const Key> key;
  if (size == encryption_key_bytes) key = std::make_shared<const Key>(*bytes);
  OPENSSL_cleanse(bytes->data(), bytes->size());
  if (!key) {
    throw ConfigError(owner_ + ": the key provider gave " + std::to_string(size) +
                      " bytes for key id \"" + id + "\"; an AES-256 key has " +
                      std::to_string(encryption_key_bytes));
  }
  cache_.emplace(id, key);
  return key;
}

std::shared_ptr<const Key> key_for(const KeyRing* keys, const std::string& id,
                                   const std::string& where) {
  if (!keys) throw_no_provider(where, id);
  return keys->key(id, where);
}

void random_bytes(unsigned char* out, std::size_t size) {
  PREVAYLER_ASSERT(size <= static_cast<std::size_t>(INT_MAX));
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    throw StorageError("AES-256-GCM: OpenSSL's random generator failed to give a nonce");
  }
}

void gcm_seal(const Key& key, std::string_view nonce, std::string_view aad,
              std::string_view plaintext, std::string& out) {
  PREVAYLER_ASSERT(nonce.size() == gcm_nonce_bytes);
  EVP_CIPHER_CTX* ctx = start(key, nonce, aad, true);
  const std::size_t start_at = out.size();
  out.resize(start_at + plaintext.size() + gcm_tag_bytes);
  auto* sink = reinterpret_cast<unsigned char*>(out.data() + start_at);
  std::size_t written = update(ctx, sink, plaintext);
  int n = 0;
  if (EVP_CipherFinal_ex(ctx, sink + written, &n) != 1) evp_failed("end encrypting");
  written += static_cast<std::size_t>(n);
  PREVAYLER_ASSERT(written == plaintext.size(), "GCM is a stream cipher: no padding");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(gcm_tag_bytes),
                          sink + written) != 1) {
    evp_failed("give the tag");
  }
}

bool gcm_open(const Key& key, std::string_view nonce, std::string_view aad, std::string_view sealed,
              char* out) {
  PREVAYLER_ASSERT(nonce.size() == gcm_nonce_bytes && sealed.size() >= gcm_tag_bytes);
  const std::string_view ciphertext = sealed.substr(0, sealed.size() - gcm_tag_bytes);
  std::array<unsigned char, gcm_tag_bytes> tag{};
  std::copy(sealed.end() - gcm_tag_bytes, sealed.end(), tag.begin());
  EVP_CIPHER_CTX* ctx = start(key, nonce, aad, false);
  auto* sink = reinterpret_cast<unsigned char*>(out);
  const std::size_t written = update(ctx, sink, ciphertext);
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(gcm_tag_bytes), tag.data()) !=
      1) {
    evp_failed("take the tag");
  }
  // The tag is checked here: until then nothing decrypted may be used.
  int n = 0;
  return EVP_CipherFinal_ex(ctx, sink + written, &n) == 1;
}

void put_key_id(std::string& out, std::string_view id) {
  PREVAYLER_ASSERT(!id.empty() && id.size() <= encryption_key_id_bytes_max);
  out.push_back(static_cast<char>(id.size()));
  out.append(id);
}

bool get_key_id(std::string_view& in, std::string_view& id) {
  if (in.empty()) return false;
  const auto size = static_cast<unsigned char>(in[0]);
  if (size == 0 || in.size() < 1 + std::size_t{size}) return false;
  id = in.substr(1, size);
  in.remove_prefix(1 + std::size_t{size});
  return true;
}

}  // namespace prevayler::detail
