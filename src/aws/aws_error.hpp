// Errors returned by AWS services (DynamoDB, S3), classified for the retry
// strategy and worded for the operator: every message names the service, the
// operation, the resource (table, bucket, key), the AWS error code and
// message, the request id and, where one is obvious, the remedy. Messages
// never contain credentials.
#pragma once

#include <string>
#include <string_view>

#include "prevayler/error.hpp"

namespace prevayler::aws {

// How the retry strategy treats a failure.
enum class ErrorClass {
  not_retryable,  // the same request would fail the same way
  retryable,      // transient: 5xx, request time-out, corrupted response
  throttling,     // the service asks us to slow down
};

// Classification of an AWS error response by its HTTP status and error code
// (the code wins over the status: a 400 ThrottlingException is throttling).
ErrorClass classify_error(int http_status, std::string_view code) noexcept;
bool is_throttling_code(std::string_view code) noexcept;
bool is_transient_code(std::string_view code) noexcept;

// What the service said, and what we were doing when it said it.
struct AwsErrorInfo {
  std::string service;    // "DynamoDB", "S3"
  std::string operation;  // "PutItem", "GetObject", ...
  std::string resource;   // "table T", "bucket B", "s3://B/K"
  int http_status = 0;
  std::string code;  // "ResourceNotFoundException", "NoSuchKey", ...
  std::string message;
  std::string request_id;
  std::string remedy;  // empty when there is no obvious one
};

// An error response from an AWS service (a response arrived, with a status
// that is not a success, or with a body that fails its checksum).
class AwsError : public StorageError {
 public:
  explicit AwsError(AwsErrorInfo info);
  AwsError(AwsErrorInfo info, ErrorClass classification);

  const std::string& service() const noexcept { return info_.service; }
  const std::string& operation() const noexcept { return info_.operation; }
  const std::string& resource() const noexcept { return info_.resource; }
  int http_status() const noexcept { return info_.http_status; }
  const std::string& code() const noexcept { return info_.code; }
  const std::string& aws_message() const noexcept { return info_.message; }
  const std::string& request_id() const noexcept { return info_.request_id; }
  const std::string& remedy() const noexcept { return info_.remedy; }
  const AwsErrorInfo& info() const noexcept { return info_; }
  ErrorClass classification() const noexcept { return classification_; }
  bool retryable() const noexcept { return classification_ != ErrorClass::not_retryable; }

  // True when an earlier attempt of the same call failed ambiguously (it may
  // have been applied): then a PreconditionFailed or ConditionalCheckFailed
  // may be caused by our own earlier attempt, and the caller should read the
  // resource to decide. Set by run_with_retries before it rethrows.
  bool after_ambiguous_attempt() const noexcept { return after_ambiguous_attempt_; }
  void mark_after_ambiguous_attempt() noexcept { after_ambiguous_attempt_ = true; }

 private:
  AwsErrorInfo info_;
  ErrorClass classification_;
  bool after_ambiguous_attempt_ = false;
};

// The table, bucket or key does not exist (DynamoDB ResourceNotFoundException,
// S3 NoSuchBucket / NoSuchKey / 404 on HEAD).
class ResourceNotFoundError : public AwsError {
 public:
  using AwsError::AwsError;
};

// S3 412 PreconditionFailed: an If-Match / If-None-Match condition did not
// hold (someone else wrote the object).
class PreconditionFailedError : public AwsError {
 public:
  using AwsError::AwsError;
};

// DynamoDB ConditionalCheckFailedException. put_item_if_absent reports this as
// a result, not as an exception; other conditional writes throw it.
class ConditionalCheckFailedError : public AwsError {
 public:
  using AwsError::AwsError;
};

// The signature or the credentials were rejected (UnrecognizedClientException,
// InvalidClientTokenId, SignatureDoesNotMatch, InvalidAccessKeyId, ...).
class CredentialsRejectedError : public AwsError {
 public:
  using AwsError::AwsError;
};

// Builds the error that fits the code and status (one of the subclasses
// above, or a plain AwsError), filling in the remedy when there is an obvious
// one. `expected_region` is the region the service says the resource lives
// in (S3 Region element or x-amz-bucket-region), empty when unknown;
// `our_region` is the one we signed for.
[[noreturn]] void throw_aws_error(AwsErrorInfo info, std::string_view our_region = {},
                                  std::string_view expected_region = {});

// The remedy text for well-known codes; empty when there is none.
std::string remedy_for(const AwsErrorInfo& info, std::string_view our_region,
                       std::string_view expected_region);

}  // namespace prevayler::aws
