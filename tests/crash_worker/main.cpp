// The program the crash tests kill.
//   prevayler_crash_worker DIR THREADS
//   prevayler_crash_worker --aws ENDPOINT TABLE BUCKET THREADS
// recovers the state (file storage in DIR, or the AWS storage at ENDPOINT
// with moto's test credentials), then runs THREADS producers (and a thread that
// takes snapshots) until killed, printing "a <producer> <seq>" once each
// event is acknowledged. Each line goes out in one write(2), so a kill never
// leaves half a line that looks complete.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/prevayler.hpp"
#ifdef PREVAYLER_WITH_AWS  // defined by CMake when the AWS storage is built
#include "prevayler/aws_storage.hpp"
#endif
#include "support/crash_model.hpp"

using namespace prevayler;
using namespace prevayler::testing::crash;

int main(int argc, char** argv) {
  const bool aws = argc == 6 && std::string(argv[1]) == "--aws";
  if (argc != 3 && !aws) {
    std::cerr << "usage: prevayler_crash_worker DIR THREADS\n"
                 "       prevayler_crash_worker --aws ENDPOINT TABLE BUCKET THREADS\n";
    return 2;
  }
  const int threads = std::stoi(argv[argc - 1]);
  Prevayler<Bank, TransferEvent>::Options options;
  options.business = apply;
  options.initial_state = initial_bank;
  if (aws) {
#ifndef PREVAYLER_WITH_AWS
    std::cerr << "prevayler_crash_worker: --aws: built without the AWS storage "
                 "(PREVAYLER_WITH_AWS=OFF)\n";
    return 2;
#else
    AwsStorageOptions storage;
    storage.endpoint = argv[2];
    storage.table = argv[3];
    storage.bucket = argv[4];
    storage.region = "us-east-1";
    storage.credentials = AwsCredentials{"testing", "testing", ""};
    storage.common.warn = [](const std::string&) {};
    options.storage = make_aws_storage(storage);
#endif
  } else {
    FileStorageOptions storage;
    storage.directory = argv[1];
    storage.common.warn = [](const std::string&) {};
    options.storage = make_file_storage(storage);
  }
  Prevayler<Bank, TransferEvent> p(std::move(options));

  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&p, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) * 7919 +
                          static_cast<std::uint64_t>(::getpid()));
      const auto& seqs = p.state()->next_seq;
      std::uint64_t seq = static_cast<std::size_t>(t) < seqs.size() ? seqs[t] : 0;
      for (;; ++seq) {
        TransferEvent e{
            static_cast<std::uint32_t>(t), seq, static_cast<std::uint32_t>(rng() % accounts),
            static_cast<std::uint32_t>(rng() % accounts), static_cast<std::int64_t>(rng() % 300)};
        p.handle(e);
        char line[64];
        const int n = std::snprintf(line, sizeof line, "a %d %llu\n", t,
                                    static_cast<unsigned long long>(seq));
        if (::write(STDOUT_FILENO, line, static_cast<std::size_t>(n)) != n) return;
      }
    });
  }
  std::thread snapshots([&p] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
      p.snapshot();
    }
  });
  for (auto& t : producers) t.join();
  snapshots.join();
}
