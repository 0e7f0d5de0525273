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
  return options;
}
#endif

std::unique_ptr<ops::JournalStore> open_store(const StorageFlags& flags) {
#ifdef PREVAYLER_WITH_AWS
  if (flags.aws) return ops::make_aws_journal_store(aws_options(flags));
#endif
  return ops::make_file_journal_store(flags.dir);
}

std::unique_ptr<ops::JournalSource> open_source(const StorageFlags& flags) {
  return open_store(flags)->source();
}

void print_error(std::string_view message) {
  std::cerr << program << ": error: " << message << std::endl;
}

std::string iso8601(Timestamp t) {
  const std::int64_t ms = t.time_since_epoch().count();
  std::int64_t seconds = ms / 1000;
  std::int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  const std::time_t time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  ::gmtime_r(&time, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return text;
}

std::optional<Timestamp> parse_iso8601(std::string_view text) {
  std::tm utc{};
  int millis = 0;
  const std::string s(text);
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon, &utc.tm_mday,
                  &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest[0] == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    for (; !rest.empty() && rest[0] >= '0' && rest[0] <= '9'; rest.remove_prefix(1), ++digits) {
      if (digits < 3) millis = millis * 10 + (rest[0] - '0');  // finer digits are dropped
    }
    if (digits == 0) return std::nullopt;
    for (int d = digits; d < 3; ++d) millis *= 10;
  }
  if (rest != "Z") return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  const std::time_t seconds = ::timegm(&utc);
  return Timestamp(std::chrono::milliseconds(static_cast<std::int64_t>(seconds) * 1000 + millis));
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
