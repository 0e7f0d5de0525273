// libFuzzer target: the journal record and entry codecs (src/core), which
// read bytes from files and DynamoDB items that may be damaged.
//
// Properties, on arbitrary input:
//   - decode_record / parse_entry either succeed or throw CorruptionError /
//     FormatVersionError (never crash, leak or hit UB);
//   - a decoded record re-encodes to bytes that decode to the same record,
//     and re-encoding is a fixed point (the encoder is canonical even when
//     the input used non-minimal varints);
//   - a decoded batch (compressed or not) compressed again decodes to the
//     same entries;
//   - the encrypted record decoder (type 7) with a fixed key, and its
//     structure check without the key, either succeed or throw those errors
//     or DecryptionError; a decoded batch encrypted decodes to the same
//     entries at its position, and to nothing at another;
//   - a parsed entry re-encodes to exactly the input bytes (its layout has
//     no redundancy).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/entry_codec.hpp"
#include "core/record_cipher.hpp"
#include "core/record_codec.hpp"
#include "fuzz_check.hpp"
#include "prevayler/codec.hpp"
#include "prevayler/error.hpp"

namespace {

using namespace prevayler;
using namespace prevayler::detail;

const std::string kWhere = "fuzz input";
const RecordPosition kPosition{1, 28};

// One fixed key, under the id "fuzz": inputs that start with a type-7 head
// and that key id reach the authentication and then the inner decoder only
// if the fuzzer forges a tag, so the round trip below drives the inner path.
const KeyRing& fuzz_keys() {
  static const KeyRing keys(
      EncryptionOptions{"fuzz",
                        [](const std::string& id) -> std::optional<std::string> {
                          if (id != "fuzz") return std::nullopt;
                          return std::string(encryption_key_bytes, 'k');
                        }},
      "fuzz");
  return keys;
}

// Decodes with the key and without it (structure only): never anything but
// the codec's errors and DecryptionError.
void check_encrypted_decoder(std::string_view input) {
  for (const bool check_only : {false, true}) {
    try {
      const DecodedRecord r =
          decode_record(input, kWhere, Decryption{&fuzz_keys(), check_only}, kPosition);
      if (r.encrypted && check_only) FUZZ_CHECK(r.entries.empty());
    } catch (const CorruptionError&) {
    } catch (const FormatVersionError&) {
    } catch (const DecryptionError&) {
    }
  }
}

std::string encode(const DecodedRecord& r) {
  std::string out;
  switch (r.type) {
    case RecordType::batch: {
      EntryBatch batch;
      for (std::string_view e : r.entries) batch.add(e);
      encode_batch_record(out, r.writer_id, batch, 0, batch.size());
      break;
    }
    case RecordType::fragment:
      encode_fragment_record(out, r.writer_id, r.fragment_index, r.fragment_count,
                             r.fragment_bytes);
      break;
    case RecordType::seal:
      encode_seal_record(out, r.writer_id, r.next_segment);
      break;
    case RecordType::segment_start:
      encode_segment_start_record(out, r.writer_id, r.previous_end);
      break;
    case RecordType::compressed_batch:
      FUZZ_FAIL("decode_record returned the type compressed_batch, not batch");
    case RecordType::encrypted_batch:
      FUZZ_FAIL("decode_record returned the type encrypted_batch, not batch");
  }
  return out;
}

bool same(const DecodedRecord& a, const DecodedRecord& b) {
  return a.type == b.type && a.writer_id == b.writer_id && a.entries == b.entries &&
         a.fragment_index == b.fragment_index && a.fragment_count == b.fragment_count &&
         a.fragment_bytes == b.fragment_bytes && a.next_segment == b.next_segment &&
         a.previous_end == b.previous_end;
}

void check_record(std::string_view input) {
  check_encrypted_decoder(input);
  DecodedRecord decoded;
  try {
    decoded = decode_record(input, kWhere);
  } catch (const CorruptionError&) {
    return;
  } catch (const FormatVersionError&) {
    return;
  } catch (const DecryptionError&) {
    return;  // an encrypted record, and no keys given
  }
  // Must not throw: the bytes are our own encoding of a valid record.
  const std::string encoded = encode(decoded);
  const DecodedRecord again = decode_record(encoded, kWhere);
  FUZZ_CHECK(same(decoded, again));
  FUZZ_CHECK(encode(again) == encoded);
  if (decoded.type == RecordType::batch) {
    // Threshold 1: every batch with a body zstd can shrink is compressed.
    static RecordCompressor compressor(1, 1, "fuzz");
    EntryBatch batch;
    for (std::string_view e : decoded.entries) batch.add(e);
    std::string compressed;
    encode_batch_record(compressed, decoded.writer_id, batch, 0, batch.size(), &compressor);
    const DecodedRecord unpacked = decode_record(compressed, kWhere);
    FUZZ_CHECK(unpacked.compressed == (compressed[1] == 5));
    FUZZ_CHECK(compressed.size() <= encoded.size());
    FUZZ_CHECK(same(decoded, unpacked));
    // Sealed after compression: opens to the same entries at its position
    // only.
    encrypt_record(compressed, 0, fuzz_keys(), kPosition);
    const DecodedRecord opened =
        decode_record(compressed, kWhere, Decryption{&fuzz_keys(), false}, kPosition);
    FUZZ_CHECK(opened.encrypted && same(decoded, opened));
    bool moved_opened = true;
    try {
      (void)decode_record(compressed, kWhere, Decryption{&fuzz_keys(), false},
                          RecordPosition{kPosition.segment, kPosition.position + 1});
    } catch (const DecryptionError&) {
      moved_opened = false;
    }
    FUZZ_CHECK(!moved_opened);
  }
  // A batch's entries are what the core parses next.
  for (std::string_view entry : decoded.entries) {
    try {
      (void)parse_entry(entry, kWhere);
    } catch (const CorruptionError&) {
    } catch (const FormatVersionError&) {
    }
  }
}

void check_entry(std::string_view input) {
  ParsedEntry parsed;
  try {
    parsed = parse_entry(input, kWhere);
  } catch (const CorruptionError&) {
    return;
  } catch (const FormatVersionError&) {
    return;
  }
  // The event is a view into the input, after the head.
  FUZZ_CHECK(parsed.event.data() + parsed.event.size() == input.data() + input.size());
  // Kinds 3 and 4 carry a schema version (2 bytes, never 0 or 1).
  FUZZ_CHECK(parsed.schema_version >= 1 && parsed.schema_version <= schema_version_max);
  std::string encoded =
      encode_entry_head(parsed.timestamp, parsed.state_hash, parsed.schema_version);
  encoded.append(parsed.event);
  FUZZ_CHECK(encoded == input);
  const ParsedEntry again = parse_entry(encoded, kWhere);
  FUZZ_CHECK(again.timestamp == parsed.timestamp);
  FUZZ_CHECK(again.state_hash == parsed.state_hash);
  FUZZ_CHECK(again.schema_version == parsed.schema_version);
  FUZZ_CHECK(again.event == parsed.event);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A view of libFuzzer's own exact-size heap copy: ASan flags any read
  // past its end (a std::string copy could hide one in its SSO buffer).
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_record(input);
  check_entry(input);
  return 0;
}
