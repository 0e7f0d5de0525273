// Internal entry point of the DynamoDB+S3 storage that takes the HTTP
// transport seam, so tests can inject faults between us and the services.
#pragma once

#include <memory>

#include "aws/http.hpp"
#include "prevayler/aws_storage.hpp"

namespace prevayler::detail {

// A null transport means the default curl transport.
std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options,
                                          std::shared_ptr<aws::HttpTransport> transport);

}  // namespace prevayler::detail
