// `--key-file ID=PATH`: the keys the read-only subcommands (inspect, verify,
// dump) open an encrypted journal with (docs/encryption.md). A key file holds
// the 32-byte key raw, or as 64 hex digits (a trailing newline is allowed),
// the two forms `head -c 32 /dev/urandom` and `openssl rand -hex 32` write.
//
// Keys are read once, before the storage is opened, so a missing or
// malformed file is a usage error up front rather than a DecryptionError
// halfway through a journal. Messages name the file and the key id, never a
// byte of the key; the copies are wiped when the last reader drops them.
#include <openssl/crypto.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "tool.hpp"

namespace prevayler::tool {
namespace {

// A key file is small; reading more than this means the wrong file.
constexpr std::size_t key_file_bytes_max = 4096;

// Keys by id, wiped when destroyed.
class KeyTable {
 public:
  KeyTable() = default;
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;
  ~KeyTable() {
    for (auto& [id, key] : keys_) OPENSSL_cleanse(key.data(), key.size());
  }
  bool add(const std::string& id, std::string key) {
    return keys_.emplace(id, std::move(key)).second;
  }
  std::optional<std::string> find(const std::string& id) const {
    const auto found = keys_.find(id);
    if (found == keys_.end()) return std::nullopt;
    return found->second;
  }

 private:
  std::map<std::string, std::string> keys_;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The key in `text`: 32 raw bytes, or 64 hex digits and optional trailing
// whitespace. Nothing when it is neither; `text` is wiped either way.
std::optional<std::string> parse_key(std::string& text) {
  std::optional<std::string> key;
  if (text.size() == encryption_key_bytes) {
    key = text;
  } else {
    std::size_t end = text.size();
    while (end > 0 && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    if (end == 2 * encryption_key_bytes) {
      std::string bytes(encryption_key_bytes, '\0');
      bool hex = true;
      for (std::size_t i = 0; i < encryption_key_bytes && hex; ++i) {
        const int high = hex_digit(text[2 * i]);
        const int low = hex_digit(text[2 * i + 1]);
        hex = high >= 0 && low >= 0;
        bytes[i] = static_cast<char>(high * 16 + low);
      }
      if (hex) key = bytes;
      OPENSSL_cleanse(bytes.data(), bytes.size());
    }
  }
  OPENSSL_cleanse(text.data(), text.size());
  return key;
}

std::string read_key_file(const std::string& id, const std::string& path) {
  const std::string what = "--key-file " + id + "=" + path + ": ";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(what + "cannot open the file (" + std::strerror(errno) + ")");
  std::string text(key_file_bytes_max + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  const std::size_t size = text.size();
  std::optional<std::string> key = parse_key(text);
  if (!key) {
    throw UsageError(what + "holds " +
                     (size > key_file_bytes_max ? "more than " + std::to_string(key_file_bytes_max)
                                                : std::to_string(size)) +
                     " bytes that are not a key; a key file holds the " +
                     std::to_string(encryption_key_bytes) + "-byte key raw or as " +
                     std::to_string(2 * encryption_key_bytes) +
                     " hex digits (e.g. from `openssl rand -hex 32`)");
  }
  return std::move(*key);
}

}  // namespace

EncryptionOptions read_key_files(const std::vector<std::string>& specs) {
  EncryptionOptions options;
  if (specs.empty()) return options;
  auto table = std::make_shared<KeyTable>();
  for (const std::string& spec : specs) {
    const std::size_t equals = spec.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == spec.size()) {
      throw UsageError("--key-file takes KEY_ID=PATH, got '" + spec + "'");
    }
    const std::string id = spec.substr(0, equals);
    if (id.size() > encryption_key_id_bytes_max) {
      throw UsageError("--key-file: key id '" + id + "' is longer than " +
                       std::to_string(encryption_key_id_bytes_max) + " bytes");
    }
    if (!table->add(id, read_key_file(id, spec.substr(equals + 1)))) {
      throw UsageError("--key-file: key id '" + id + "' is given twice");
    }
  }
  // Read-only: current_key_id stays empty, so nothing is encrypted.
  options.key = [table](const std::string& id) { return table->find(id); };
  return options;
}

}  // namespace prevayler::tool
