// The README's first example, compiled against an installed prevayler-cpp,
// with the public option and stats types.
#include <prevayler/prevayler.hpp>
#include <prevayler/version.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>

struct Counter {
  long value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};

int main(int argc, char** argv) {
#ifdef CONSUMER_PACKAGE_VERSION
  if (std::strcmp(PREVAYLER_VERSION, CONSUMER_PACKAGE_VERSION) != 0) {
    std::printf("version.hpp says %s, the package %s\n", PREVAYLER_VERSION,
                CONSUMER_PACKAGE_VERSION);
    return 1;
  }
#endif
  const std::filesystem::path dir = argc > 1 ? argv[1] : "consumer-data";
  long last = 0;
  for (int run = 0; run < 2; ++run) {
    prevayler::Prevayler<Counter, long>::Options options;
    options.business = [](const Counter& c, const long& n, prevayler::Timestamp) {
      return Counter{c.value + n};
    };
    // Designated initializers, with the options shared by the storages.
    options.storage = prevayler::make_file_storage(
        {.directory = dir, .common = {.keep_snapshots = 0, .compress_snapshots = true}});
    prevayler::Prevayler<Counter, long> counter(std::move(options));
    last = counter.handle(5)->value;
    const prevayler::Stats stats = counter.stats();
    if (stats.events_journaled != 1 || stats.writes_in_flight_allowed != 1) return 1;
  }
  std::printf("%ld\n", last);
  return last == 10 ? 0 : 1;  // the second run recovered the first's 5
}
