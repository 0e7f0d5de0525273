// The README's first example, compiled against an installed prevayler-cpp.
#include <prevayler/prevayler.hpp>

#include <cstdio>
#include <filesystem>

struct Counter {
  long value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : "consumer-data";
  long last = 0;
  for (int run = 0; run < 2; ++run) {
    prevayler::Prevayler<Counter, long>::Options options;
    options.business = [](const Counter& c, const long& n, prevayler::Timestamp) {
      return Counter{c.value + n};
    };
    prevayler::FileStorageOptions storage;
    storage.directory = dir;
    options.storage = prevayler::make_file_storage(storage);
    prevayler::Prevayler<Counter, long> counter(std::move(options));
    last = counter.handle(5)->value;
  }
  std::printf("%ld\n", last);
  return last == 10 ? 0 : 1;  // the second run recovered the first's 5
}
