// A small S3 client for the snapshot objects: REST-XML over the
// HttpTransport seam, SigV4-signed (service "s3", x-amz-content-sha256),
// every call retried through the RetryStrategy.
//
// Addressing: virtual-hosted (https://bucket.host/key) unless path style is
// asked for, or the endpoint host is an IP address or `localhost` (local
// emulators such as moto or MinIO), where path style
// (http://host:port/bucket/key) is used automatically.
//
// Thread-safety: an S3Client is immutable after construction and all its
// members are safe to call from many threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/aws_error.hpp"
#include "aws/credentials.hpp"
#include "aws/http.hpp"
#include "aws/retry.hpp"

namespace prevayler::aws {

// Service limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
inline constexpr std::uint64_t s3_multipart_part_bytes_min = 5ULL * 1024 * 1024;  // but the last
inline constexpr std::uint64_t s3_multipart_part_bytes_max = 5ULL * 1024 * 1024 * 1024;
inline constexpr int s3_multipart_parts_max = 10000;
inline constexpr std::uint64_t s3_put_object_bytes_max = 5ULL * 1024 * 1024 * 1024;

struct S3Config {
  std::string region;
  std::string endpoint;  // scheme://host[:port], e.g. https://s3.us-east-1.amazonaws.com
  std::shared_ptr<CredentialsProvider> credentials;
  std::shared_ptr<HttpTransport> transport;
  std::shared_ptr<RetryStrategy> retry;  // the standard strategy when null
  // Path-style addressing; when unset, automatic (see above).
  std::optional<bool> path_style;
  std::chrono::milliseconds request_timeout{0};  // per attempt; 0 = the transport's default
};

// Precondition of a write (PutObject, CompleteMultipartUpload).
struct WriteCondition {
  enum class Kind { none, if_match, if_none_match_star };
  Kind kind = Kind::none;
  std::string etag;  // for if_match, as returned by S3 (with its quotes)

  static WriteCondition none() { return {}; }
  static WriteCondition if_match(std::string etag) { return {Kind::if_match, std::move(etag)}; }
  static WriteCondition if_none_match_star() { return {Kind::if_none_match_star, {}}; }
};

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

struct ObjectInfo {
  std::uint64_t size = 0;
  std::string etag;
};

struct GetObjectResult {
  std::string body;
  std::string etag;
  std::uint64_t total_size = 0;  // of the whole object (from Content-Range when ranged)
};

struct ListedObject {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
};

struct CompletedPart {
  int part_number = 0;
  std::string etag;
};

class S3Client {
 public:
  // Throws ConfigError when the region, endpoint, credentials or transport is
  // missing or the endpoint is not scheme://host[:port].
  explicit S3Client(S3Config config);

  // Throws ResourceNotFoundError when the bucket does not exist, AwsError
  // (with the region remedy) when it is in another region.
  void head_bucket(const std::string& bucket);
  // Creates the bucket in the client's region (LocationConstraint unless
  // us-east-1). Returns false when we already own it (BucketAlreadyOwnedByYou);
  // in us-east-1 S3 answers 200 again for a bucket we own, so it returns true.
  // Throws AwsError BucketAlreadyExists when someone else owns the name.
  bool create_bucket(const std::string& bucket);
  // Deletes an empty bucket (tests and tooling). Returns false when missing.
  bool delete_bucket(const std::string& bucket);

  // Throws ResourceNotFoundError (NoSuchKey / NoSuchBucket) when missing.
  ObjectInfo head_object(const std::string& bucket, const std::string& key);
  // With `if_match` (an ETag), throws PreconditionFailedError when the
  // object is no longer that version: ranged reads of one object then never
  // mix two versions.
  GetObjectResult get_object(const std::string& bucket, const std::string& key,
                             std::optional<ByteRange> range = {}, const std::string& if_match = {});
  // Returns the new ETag. Throws PreconditionFailedError when the condition
  // does not hold (412).
  std::string put_object(const std::string& bucket, const std::string& key, std::string_view body,
                         const WriteCondition& condition = WriteCondition::none());
  // Deleting a missing key is no error (S3 semantics).
  void delete_object(const std::string& bucket, const std::string& key);
  // All objects under the prefix, following continuation tokens.
  std::vector<ListedObject> list_objects_v2(const std::string& bucket, const std::string& prefix,
                                            int max_keys_per_page = 1000);

  // Multipart upload. Parts are 5 MiB at least, except the last.
  std::string create_multipart_upload(const std::string& bucket, const std::string& key);
  std::string upload_part(const std::string& bucket, const std::string& key,
                          const std::string& upload_id, int part_number, std::string_view body);
  std::string complete_multipart_upload(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id,
                                        const std::vector<CompletedPart>& parts,
                                        const WriteCondition& condition = WriteCondition::none());
  void abort_multipart_upload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id);

  bool path_style() const noexcept { return path_style_; }
  // The URL of an object (or of the bucket when key is empty) with the query.
  std::string url(const std::string& bucket, const std::string& key,
                  const std::string& query = {}) const;

  const S3Config& config() const noexcept { return config_; }

 private:
  struct Call {
    std::string method;
    std::string bucket;
    std::string key;
    std::string query;  // already encoded, without '?'
    HttpHeaders headers;
    std::string_view body;
    std::string operation;  // for messages: "PutObject", ...
  };
  // One signed attempt; returns a 2xx response, throws AwsError or
  // TransportError.
  HttpResponse attempt(const Call& call) const;
  // attempt() through the retry strategy.
  HttpResponse send(const Call& call) const;

  S3Config config_;
  std::string scheme_;
  std::string host_;  // host[:port]
  bool path_style_ = false;
};

}  // namespace prevayler::aws
