// The `prevayler` operator command: what its subcommands share.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ops/journal_access.hpp"
#include "prevayler/encryption.hpp"
#ifdef PREVAYLER_WITH_AWS
#include "prevayler/aws_storage.hpp"
#endif
#include "prevayler/point_in_time.hpp"
#include "prevayler/timestamp.hpp"

namespace prevayler::tool {

inline constexpr std::string_view program = "prevayler";
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // a problem found, a resource missing, a storage error
inline constexpr int exit_usage = 2;

// A mistake on the command line: exit 2 with a pointer to the help.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where a journal is: `--dir PATH`, or `--aws --table T --bucket B
// [--snapshot-path K]` with region, endpoint and credentials from the
// standard AWS configuration (--region and --endpoint override them).
struct StorageFlags {
  std::string dir;
  bool aws = false;
  std::string table;
  std::string bucket;
  std::string snapshot_path = "snapshot";
  std::string region;
  std::string endpoint;
  // `--key-file ID=PATH` (inspect, verify, dump): keys to open encrypted
  // data with (key_files.cpp).
  std::vector<std::string> key_files;
};

// The keys of `--key-file ID=PATH` as a read-only provider (no current
// key). Throws UsageError naming the file when one is missing or not a key.
EncryptionOptions read_key_files(const std::vector<std::string>& specs);

// Throw UsageError when the flags name no storage or both.
void check_storage_flags(const StorageFlags& flags, std::string_view prefix = "");
// The journal the flags name: what copy and prune run on (src/ops).
std::unique_ptr<ops::JournalStore> open_store(const StorageFlags& flags);
std::unique_ptr<ops::JournalSource> open_source(const StorageFlags& flags);

void print_error(std::string_view message);

std::string base64(std::string_view bytes);
std::string hex64(std::uint64_t value);
std::string position_text(const JournalPosition& p);

struct InspectOptions {
  bool json = false;
};
struct VerifyOptions {
  bool json = false;
};
struct DumpOptions {
  bool json = false;
  std::string from;   // POS
  std::string until;  // POS or TIME
};
struct CopyOptions {
  bool all = false;
};

int run_inspect(const StorageFlags& flags, const InspectOptions& options);
int run_verify(const StorageFlags& flags, const VerifyOptions& options);
int run_dump(const StorageFlags& flags, const DumpOptions& options);
int run_copy(const StorageFlags& from, const StorageFlags& to, const CopyOptions& options);
int run_prune(const StorageFlags& flags, detail::RetentionPolicy policy);
#ifdef PREVAYLER_WITH_AWS
// The storage options the flags give (region and endpoint only when set).
AwsStorageOptions aws_options(const StorageFlags& flags);
int run_setup(const StorageFlags& flags);
int run_check(const StorageFlags& flags);
#endif

}  // namespace prevayler::tool
