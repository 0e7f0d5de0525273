// Test data that zstd compresses well but not trivially (about 6:1 at
// level 1): words from a small vocabulary, seeded so a failure reproduces.
#pragma once

#include <cstddef>
#include <random>
#include <string>

namespace prevayler::testing {

// Words and their spaces until `enough(words so far, text so far)`.
template <class Enough>
std::string vocabulary_words(unsigned seed, Enough enough) {
  static const char* vocabulary[] = {"account", "deposit", "withdraw", "balance", "euro",
                                     "ledger",  "event",   "snapshot", "journal", "42"};
  constexpr std::size_t vocabulary_words = sizeof vocabulary / sizeof vocabulary[0];
  std::mt19937 rng(seed);
  std::string s;
  for (std::size_t words = 0; !enough(words, s); ++words) {
    s += vocabulary[rng() % vocabulary_words];
    s += ' ';
  }
  return s;
}

// `words` words, each followed by a space.
inline std::string compressible_words(std::size_t words, unsigned seed) {
  return vocabulary_words(seed, [&](std::size_t n, const std::string&) { return n == words; });
}

// Exactly `bytes` bytes of such words (the last one cut). Bounded: every
// word adds at least two bytes.
inline std::string compressible_text(std::size_t bytes, unsigned seed) {
  std::string s =
      vocabulary_words(seed, [&](std::size_t, const std::string& t) { return t.size() >= bytes; });
  s.resize(bytes);
  return s;
}

}  // namespace prevayler::testing
