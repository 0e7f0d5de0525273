// Internal entry point of the DynamoDB+S3 storage that takes the HTTP
// transport seam, so tests can inject faults between us and the services.
#pragma once

#include <cstdint>
#include <memory>

#include "aws/aws_clients.hpp"
#include "aws/http.hpp"
#include "prevayler/aws_storage.hpp"

namespace prevayler::detail {

// A null transport means the default curl transport.
std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options,
                                          std::shared_ptr<aws::HttpTransport> transport,
                                          AwsStorageTestHooks hooks = {});

// prune_aws_journal through the given transport (tests, simulators).
std::uint64_t prune_aws_journal(const AwsStorageOptions& options,
                                std::shared_ptr<aws::HttpTransport> transport,
                                AwsStorageTestHooks hooks = {});

}  // namespace prevayler::detail
