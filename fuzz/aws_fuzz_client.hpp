// The configuration of an AWS client that a fuzz target drives through a
// fake transport answering with the fuzz input.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "aws/client_config.hpp"
#include "aws/credentials.hpp"
#include "aws/http.hpp"
#include "aws/retry.hpp"

namespace prevayler::fuzz {

// A DynamoDbConfig or S3Config whose calls each make one request (the fuzz
// input is one response) through `transport`, with static credentials.
template <class Config>
Config one_attempt_config(std::string region, std::string endpoint,
                          std::shared_ptr<aws::HttpTransport> transport) {
  Config config = aws::client_config<Config>(
      std::move(region), std::move(endpoint),
      aws::static_credentials(aws::Credentials{"AKIDFUZZ", "secret", "", {}}),
      std::move(transport));
  aws::StandardRetryOptions retry;
  retry.max_attempts = 1;
  retry.sleep = [](std::chrono::milliseconds) {};
  config.retry = aws::make_standard_retry_strategy(retry);
  return config;
}

}  // namespace prevayler::fuzz
