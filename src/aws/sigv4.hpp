// AWS Signature Version 4 request signing.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "aws/credentials.hpp"
#include "aws/http.hpp"

namespace prevayler::aws {

struct SigningOptions {
  std::string region;
  std::string service;  // "dynamodb", "s3", "sts"
  std::chrono::system_clock::time_point time;
  // S3 rules: the path is URI-encoded once (not twice) and the request
  // carries x-amz-content-sha256 (set to the payload's SHA-256 hex, or to
  // "UNSIGNED-PAYLOAD" when unsigned_payload is true).
  bool s3 = false;
  bool unsigned_payload = false;
};

// Adds host (if absent), x-amz-date, x-amz-security-token (temporary
// credentials), x-amz-content-sha256 (S3) and Authorization to the request.
void sign_request(HttpRequest& request, const Credentials& credentials,
                  const SigningOptions& options);

// Building blocks, exposed for the test-suite vectors.
std::string canonical_request(const HttpRequest& request, std::string_view payload_hash_hex,
                              bool s3);
std::string string_to_sign(std::string_view canonical_request, std::string_view amz_date,
                           std::string_view scope);

}  // namespace prevayler::aws
