#include "aws/aws_error.hpp"

#include <array>
#include <utility>

namespace prevayler::aws {
namespace {

// The throttling codes of the AWS "standard" retry mode.
constexpr std::array<std::string_view, 14> throttling_error_codes = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

constexpr std::array<std::string_view, 4> transient_error_codes = {
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalServerError",
};

constexpr std::array<std::string_view, 7> credential_error_codes = {
    "UnrecognizedClientException", "InvalidClientTokenId",      "SignatureDoesNotMatch",
    "InvalidAccessKeyId",          "InvalidSignatureException", "ExpiredToken",
    "ExpiredTokenException",
};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& codes, std::string_view code) {
  for (auto c : codes) {
    if (c == code) return true;
  }
  return false;
}

std::string build_message(const AwsErrorInfo& info) {
  std::string m = info.service + " " + info.operation;
  if (!info.resource.empty()) m += " on " + info.resource;
  m += " failed: HTTP " + std::to_string(info.http_status);
  if (!info.code.empty()) m += " " + info.code;
  if (!info.message.empty()) m += ": " + info.message;
  if (!info.request_id.empty()) m += " (request id " + info.request_id + ")";
  if (!info.remedy.empty()) m += ". " + info.remedy;
  return m;
}

}  // namespace

bool is_throttling_code(std::string_view code) noexcept {
  return contains(throttling_error_codes, code);
}
bool is_transient_code(std::string_view code) noexcept {
  return contains(transient_error_codes, code);
}

ErrorClass classify_error(int http_status, std::string_view code) noexcept {
  if (is_throttling_code(code)) return ErrorClass::throttling;
  // S3 sends 503 SlowDown, DynamoDB 400 ThrottlingException; a bare 429 is
  // throttling whatever its body.
  if (http_status == 429) return ErrorClass::throttling;
  if (is_transient_code(code)) return ErrorClass::retryable;
  if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504)
    return ErrorClass::retryable;
  return ErrorClass::not_retryable;
}

AwsError::AwsError(AwsErrorInfo info) : AwsError(std::move(info), ErrorClass::not_retryable) {
  classification_ = classify_error(info_.http_status, info_.code);
}

AwsError::AwsError(AwsErrorInfo info, ErrorClass classification)
    : StorageError(build_message(info)), info_(std::move(info)), classification_(classification) {}

std::string remedy_for(const AwsErrorInfo& info, std::string_view our_region,
                       std::string_view expected_region) {
  const std::string& code = info.code;
  if (code == "ResourceNotFoundException" && info.service == "DynamoDB") {
    std::string table = info.resource.rfind("table ", 0) == 0 ? info.resource.substr(6) : "T";
    return "Create it with `prevayler setup --table " + table + " --bucket B` or see docs/aws.md";
  }
  if (code == "NoSuchBucket") {
    std::string bucket = "B";
    if (info.resource.rfind("bucket ", 0) == 0) {
      bucket = info.resource.substr(7);
    } else if (info.resource.rfind("s3://", 0) == 0) {
      bucket = info.resource.substr(5, info.resource.find('/', 5) - 5);
    }
    return "Create it with `prevayler setup --table T --bucket " + bucket + "` or see docs/aws.md";
  }
  if (contains(credential_error_codes, code)) {
    return "Check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, "
           "AWS_PROFILE, the shared credentials file) and the system clock";
  }
  if (!expected_region.empty() && expected_region != our_region) {
    return "The bucket is in region " + std::string(expected_region) + ", not " +
           std::string(our_region) + "; set the region to " + std::string(expected_region);
  }
  if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" ||
      code == "IllegalLocationConstraintException") {
    return "The region " + std::string(our_region) +
           " does not match the bucket's region; check AWS_REGION and the endpoint";
  }
  if (code == "AccessDenied" || code == "AccessDeniedException") {
    return "Grant the caller's IAM identity the permission for " + info.operation +
           " on this resource (see docs/aws.md)";
  }
  return {};
}

void throw_aws_error(AwsErrorInfo info, std::string_view our_region,
                     std::string_view expected_region) {
  if (info.remedy.empty()) info.remedy = remedy_for(info, our_region, expected_region);
  const std::string& code = info.code;
  if (code == "ResourceNotFoundException" || code == "NoSuchBucket" || code == "NoSuchKey" ||
      code == "NoSuchUpload" || (info.http_status == 404 && code.empty()) || code == "NotFound")
    throw ResourceNotFoundError(std::move(info));
  if (info.http_status == 412 || code == "PreconditionFailed")
    throw PreconditionFailedError(std::move(info));
  if (code == "ConditionalCheckFailedException") throw ConditionalCheckFailedError(std::move(info));
  if (contains(credential_error_codes, code)) throw CredentialsRejectedError(std::move(info));
  throw AwsError(std::move(info));
}

}  // namespace prevayler::aws
