// PointInTime's text form and the ISO 8601 UTC timestamps it reads
// (include/prevayler/point_in_time.hpp).
#include "prevayler/point_in_time.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>

#include "core/position_text.hpp"
#include "prevayler/error.hpp"

namespace prevayler {
PointInTime PointInTime::parse(std::string_view text) {
  PointInTime point;
  if (auto time = parse_iso8601(text)) {
    point.time = *time;
  } else if (auto position =
                 detail::parse_position(text, std::numeric_limits<std::uint64_t>::max())) {
    point.position = *position;
  } else {
    throw ConfigError("not a point in time: \"" + std::string(text) +
                      "\"; give SEGMENT:RECORDS (e.g. 7:120) or an ISO 8601 UTC time (e.g. "
                      "2026-12-01T12:00:00Z or 2026-12-01T12:00:00.250Z)");
  }
  return point;
}

std::string PointInTime::to_string() const {
  if (time) return to_iso8601(*time);
  if (!position) return "(no point)";
  constexpr std::uint64_t all = std::numeric_limits<std::uint64_t>::max();
  std::string text = std::to_string(position->segment);
  if (position->record != all) text += ":" + std::to_string(position->record);
  if (position->record != all && position->entry != std::numeric_limits<std::uint32_t>::max()) {
    text += ":" + std::to_string(position->entry);
  }
  return text;
}

std::string to_iso8601(Timestamp time) {
  const std::int64_t ms = time.time_since_epoch().count();
  std::int64_t seconds = ms / 1000;
  std::int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return text;
}

std::optional<Timestamp> parse_iso8601(std::string_view text) {
  constexpr int millis_digits = 3;
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
      if (digits < millis_digits) millis = millis * 10 + (rest[0] - '0');  // finer ones dropped
    }
    if (digits == 0) return std::nullopt;
    for (int d = digits; d < millis_digits; ++d) millis *= 10;
  }
  if (rest != "Z") return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  const std::time_t seconds = ::timegm(&utc);
  return Timestamp(std::chrono::milliseconds(static_cast<std::int64_t>(seconds) * 1000 + millis));
}

}  // namespace prevayler
