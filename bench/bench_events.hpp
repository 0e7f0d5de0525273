// Event content for the benches: `fill` (one repeated byte), `text` (words
// of a small vocabulary, about 6:1 at zstd level 1, like real records) or
// `random` (incompressible). Shared by prevayler_journal_bench and
// prevayler_aws_bench (--event-content).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>

#include "bench_counter.hpp"

namespace bench {

enum class Content { fill, text, random };
inline Content event_content = Content::fill;

// text and random events are slices at random offsets of one large source,
// so that the events of a group commit differ as real ones would (copies of
// one event would compress far better).
inline std::string event_source;

inline void make_event_source(std::size_t event_bytes) {
  if (event_content == Content::fill) return;
  const std::size_t size = std::max<std::size_t>(std::size_t{32} << 20, 4 * event_bytes);
  std::mt19937 rng(42);
  event_source.reserve(size + 16);
  if (event_content == Content::text) {
    static const char* vocabulary[] = {"account", "deposit", "withdraw", "balance", "euro",
                                       "ledger",  "event",   "snapshot", "journal", "42"};
    while (event_source.size() < size) {
      event_source += vocabulary[rng() % 10];
      event_source += ' ';
    }
  } else {
    event_source.resize(size);
    for (char& c : event_source) c = static_cast<char>(rng());
  }
}

class EventMaker {
 public:
  EventMaker(std::size_t encoded_bytes, char fill)
      : size_(encoded_bytes > cereal_length_bytes ? encoded_bytes - cereal_length_bytes : 0),
        rng_(static_cast<unsigned>(fill)) {
    if (event_content == Content::fill) event_.assign(size_, fill);
  }
  const std::string& next() {
    if (event_content != Content::fill) {
      event_.assign(event_source, rng_() % (event_source.size() - size_), size_);
    }
    return event_;
  }

 private:
  std::size_t size_;
  std::mt19937 rng_;
  std::string event_;
};

// "fill", "text" or "random" into `content`; false for anything else.
inline bool parse_event_content(const char* text, Content& content) {
  if (!std::strcmp(text, "fill")) {
    content = Content::fill;
  } else if (!std::strcmp(text, "text")) {
    content = Content::text;
  } else if (!std::strcmp(text, "random")) {
    content = Content::random;
  } else {
    return false;
  }
  return true;
}

inline const char* event_content_name(Content content) {
  static const char* names[] = {"fill", "text", "random"};
  return names[static_cast<int>(content)];
}

}  // namespace bench
