// libFuzzer target: recovery of the file storage from damaged files.
//
// The first input byte picks how the rest becomes a data directory:
//   0  the bytes are journal-0.log, as is (header checks, record framing);
//   1  the bytes are snapshot-1.snap, as is;
//   2  a valid segment 0 header, then records the harness frames with valid
//      CRCs from (length byte, payload) chunks, then any leftover bytes raw
//      (gets past the CRCs to the record decoder and the torn-tail logic);
//   3  a valid snapshot 1 wrapping the bytes as its body (header, trailer
//      and body CRC right), and an empty segment 1;
//   4  a valid snapshot 1 header followed by the raw bytes (trailer checks);
//   5  like 2, followed by an intact segment 1: damage in segment 0 is then
//      never a torn tail.
//
// Properties: recovery either succeeds or throws a StorageError subclass
// (CorruptionError, FormatVersionError, StorageError), or DecryptionError
// for an encrypted record or snapshot (the harness gives no key: the
// encrypted decoder itself is fuzz_journal_record's); never a crash, a
// leak or UB. When it succeeds, the harness-framed records are recovered
// in order, and the directory stays usable: one appended entry plus
// everything recovered before comes back on the next open (so a torn tail
// was cut exactly, and nothing else).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/container_header.hpp"
#include "core/crc32c.hpp"
#include "core/entry_codec.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "core/record_frame.hpp"
#include "fuzz_check.hpp"
#include "prevayler/error.hpp"
#include "prevayler/file_storage.hpp"

namespace {

namespace fs = std::filesystem;
using namespace prevayler;
using namespace prevayler::detail;

// What one recover() delivered.
struct Recovered {
  std::optional<std::uint64_t> snapshot_id;
  std::string snapshot;
  std::vector<std::string> entries;
  bool operator==(const Recovered&) const = default;
};

// Consumes everything, as the engine would: reads the whole snapshot stream
// and parses every entry's head.
class Collector : public RecoveryHandler {
 public:
  Recovered got;
  void snapshot(std::uint64_t id, std::istream& state) override {
    FUZZ_CHECK(!got.snapshot_id && got.entries.empty());
    got.snapshot_id = id;
    got.snapshot.assign(std::istreambuf_iterator<char>(state), {});
  }
  void restart() override { got = Recovered{}; }
  void entry(const JournalPosition&, std::string_view bytes) override {
    (void)parse_entry(bytes, "fuzz entry");  // throws CorruptionError like the engine
    got.entries.emplace_back(bytes);
  }
};

// One directory per process, emptied before each input: cheaper than a new
// temp dir per execution, and libFuzzer runs inputs one at a time.
const fs::path& work_dir() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "prevayler-fuzz-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) FUZZ_FAIL("mkdtemp");
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(work_dir(), ec);
    });
    return fs::path(tmpl);
  }();
  return dir;
}

fs::path numbered(const char* prefix, std::uint64_t id, const char* suffix) {
  char name[64];
  std::snprintf(name, sizeof name, "%s%020llu%s", prefix, static_cast<unsigned long long>(id),
                suffix);
  return work_dir() / "data" / name;
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) FUZZ_FAIL("cannot write the fuzz directory");
}

// Mode 2/5: frames (length byte, payload) chunks; leftover bytes go raw.
// Returns the entries a successful recovery must start with.
std::vector<std::string> framed_segment(std::string_view body, std::string& file) {
  file = make_container_header(segment_magic, segment_format_version, 0);
  std::vector<std::string> expected;
  bool decodable = true;  // entries after an undecodable record cannot be expected
  while (!body.empty()) {
    const std::size_t n = static_cast<unsigned char>(body[0]);
    if (n + 1 > body.size()) break;
    const std::string_view payload = body.substr(1, n);
    append_frame(file, payload);
    body.remove_prefix(n + 1);
    if (!decodable) continue;
    try {
      const DecodedRecord r = decode_record(payload, "harness");
      for (std::string_view e : r.entries) expected.emplace_back(e);
    } catch (const StorageError&) {
      decodable = false;
    } catch (const DecryptionError&) {
      decodable = false;
    }
  }
  file.append(body);
  return expected;
}

std::string snapshot_file(std::uint64_t id, std::string_view body) {
  std::string file = make_container_header(snapshot_magic, snapshot_format_version, id);
  file.append(body);
  file += make_snapshot_trailer(body.size(), crc32c(body));
  return file;
}

std::unique_ptr<Storage> open_storage() {
  FileStorageOptions options;
  options.directory = work_dir() / "data";
  options.sync = false;                             // durability is not under test; speed is
  options.common.warn = [](const std::string&) {};  // torn tails are expected here
  return make_file_storage(std::move(options));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int mode = data[0] % 6;

  std::error_code ec;
  fs::remove_all(work_dir() / "data", ec);
  fs::create_directories(work_dir() / "data");

  std::vector<std::string> expected;  // framed entries recovery must deliver first
  bool exact = false;                 // and nothing after them
  switch (mode) {
    case 0:
      write_file(numbered("journal-", 0, ".log"), body);
      break;
    case 1:
      write_file(numbered("snapshot-", 1, ".snap"), body);
      break;
    case 2:
    case 5: {
      std::string file;
      expected = framed_segment(body, file);
      write_file(numbered("journal-", 0, ".log"), file);
      if (mode == 5) {
        std::string next = make_container_header(segment_magic, segment_format_version, 1);
        EntryBatch batch;
        batch.add(encode_entry_head(Timestamp{}, std::nullopt, 1), "next");
        std::string record;
        encode_batch_record(record, 7, batch, 0, 1);
        append_frame(next, record);
        write_file(numbered("journal-", 1, ".log"), next);
      }
      break;
    }
    case 3:
      write_file(numbered("snapshot-", 1, ".snap"), snapshot_file(1, body));
      write_file(numbered("journal-", 1, ".log"),
                 make_container_header(segment_magic, segment_format_version, 1));
      exact = true;
      break;
    case 4: {
      std::string file = make_container_header(snapshot_magic, snapshot_format_version, 1);
      file.append(body);
      write_file(numbered("snapshot-", 1, ".snap"), file);
      break;
    }
  }

  Collector first;
  {
    auto storage = open_storage();
    try {
      storage->recover(first);
    } catch (const StorageError&) {
      return 0;  // the allowed failure: CorruptionError, FormatVersionError, ...
    } catch (const DecryptionError&) {
      return 0;  // an encrypted record or snapshot, and no key
    }
    FUZZ_CHECK(first.got.entries.size() >= expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
      FUZZ_CHECK(first.got.entries[i] == expected[i]);
    if (exact) {
      FUZZ_CHECK(first.got.snapshot_id == 1);
      FUZZ_CHECK(first.got.snapshot == body);
      FUZZ_CHECK(first.got.entries.empty());
    }
    // The directory must take new entries after whatever recovery cut.
    EntryBatch batch;
    batch.add(encode_entry_head(Timestamp(std::chrono::milliseconds(42)), std::nullopt, 1),
              "after");
    storage->append(batch);
    storage->close();
  }

  Collector second;
  auto storage = open_storage();
  storage->recover(second);  // must not throw: we only appended to a recovered journal
  storage->close();
  Recovered want = first.got;
  want.entries.push_back(
      encode_entry_head(Timestamp(std::chrono::milliseconds(42)), std::nullopt, 1) + "after");
  FUZZ_CHECK(second.got == want);
  return 0;
}
