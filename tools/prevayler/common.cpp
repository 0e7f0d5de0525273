// The storage flags and the text formats the subcommands share.
#include <cstdio>
#include <ctime>
#include <iostream>

#include "ops/file_journal.hpp"
#include "tool.hpp"
#ifdef PREVAYLER_WITH_AWS
#include "ops/aws_journal.hpp"
#endif

namespace prevayler::tool {

void check_storage_flags(const StorageFlags& flags, std::string_view prefix) {
  const std::string p(prefix);
  if (flags.aws && !flags.dir.empty()) {
    throw UsageError("give either --" + p + "dir or --" + p + "aws, not both");
  }
  if (!flags.aws) {
    if (flags.dir.empty()) {
      throw UsageError("say where the journal is: --" + p + "dir PATH or --" + p + "aws --" + p +
                       "table T --" + p + "bucket B");
    }
    return;
  }
#ifdef PREVAYLER_WITH_AWS
  if (flags.table.empty()) throw UsageError("--" + p + "aws needs --" + p + "table NAME");
  if (flags.bucket.empty()) throw UsageError("--" + p + "aws needs --" + p + "bucket NAME");
#else
  throw UsageError("this build has no AWS storage (configured with PREVAYLER_WITH_AWS=OFF)");
#endif
}

#ifdef PREVAYLER_WITH_AWS
AwsStorageOptions aws_options(const StorageFlags& flags) {
  AwsStorageOptions options;
  options.table = flags.table;
  options.bucket = flags.bucket;
  options.snapshot_path = flags.snapshot_path;
  if (!flags.region.empty()) options.region = flags.region;
  if (!flags.endpoint.empty()) options.endpoint = flags.endpoint;
  options.common.encryption = read_key_files(flags.key_files);
  return options;
}
#endif

std::unique_ptr<ops::JournalStore> open_store(const StorageFlags& flags) {
#ifdef PREVAYLER_WITH_AWS
  if (flags.aws) return ops::make_aws_journal_store(aws_options(flags));
#endif
  return ops::make_file_journal_store(flags.dir, detail::posix_file_system(),
                                      read_key_files(flags.key_files));
}

std::unique_ptr<ops::JournalSource> open_source(const StorageFlags& flags) {
  return open_store(flags)->source();
}

void print_error(std::string_view message) {
  std::cerr << program << ": error: " << message << std::endl;
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<unsigned char>(bytes[i]) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string hex64(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string position_text(const JournalPosition& p) {
  return std::to_string(p.segment) + ":" + std::to_string(p.record) + ":" + std::to_string(p.entry);
}

}  // namespace prevayler::tool
