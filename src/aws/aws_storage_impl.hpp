// Internal entry point of the DynamoDB+S3 storage that takes the HTTP
// transport seam, so tests can inject faults between us and the services.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "aws/http.hpp"
#include "prevayler/aws_storage.hpp"

namespace prevayler::detail {

// What a simulation test replaces besides the transport: every wait
// between attempts (retries, unknown outcomes) goes through `sleep`, and
// the retry jitter through a seeded generator, so that a seed runs fast
// and the same way twice.
struct AwsStorageTestHooks {
  std::function<void(std::chrono::milliseconds)> sleep;  // real sleeps when unset
  std::optional<std::uint64_t> retry_seed;               // random when unset
};

// A null transport means the default curl transport.
std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options,
                                          std::shared_ptr<aws::HttpTransport> transport,
                                          AwsStorageTestHooks hooks = {});

// prune_aws_journal through the given transport (tests, simulators).
std::uint64_t prune_aws_journal(const AwsStorageOptions& options,
                                std::shared_ptr<aws::HttpTransport> transport,
                                AwsStorageTestHooks hooks = {});

}  // namespace prevayler::detail
