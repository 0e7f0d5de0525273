// The fields every AWS client's configuration has (DynamoDbConfig and
// S3Config: region, endpoint, credentials, transport), filled in one place
// for the callers that build clients by hand: the tests, the benches and
// the fuzzers.
#pragma once

#include <memory>
#include <string>

#include "aws/credentials.hpp"
#include "aws/http.hpp"

namespace prevayler::aws {

// A DynamoDbConfig or S3Config; the other fields keep their defaults (the
// standard retry strategy, the transport's time-out).
template <class Config>
Config client_config(std::string region, std::string endpoint,
                     std::shared_ptr<CredentialsProvider> credentials,
                     std::shared_ptr<HttpTransport> transport) {
  Config config;
  config.region = std::move(region);
  config.endpoint = std::move(endpoint);
  config.credentials = std::move(credentials);
  config.transport = std::move(transport);
  return config;
}

}  // namespace prevayler::aws
