// libFuzzer target: how the S3 client reads responses (XML error bodies,
// the 200-with-<Error> of CompleteMultipartUpload, CreateMultipartUpload's
// UploadId, ListObjectsV2 pages, and the headers it parses). The parsing is
// private to src/aws/s3.cpp, so the public client is driven through a fake
// HttpTransport that answers with the fuzz input.
//
// Input: byte 0 picks the operation (bits 0-2) and whether the fuzzed
// header is sent; byte 1 the status; byte 2 the length n of the next n bytes,
// the value of the fuzzed header (Content-Range, Content-Length, ETag,
// x-amz-bucket-region); the rest is the response body.
//
// Property: each call returns or throws a prevayler::Error subclass; never a
// crash, a leak, UB or another exception type.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aws/aws_error.hpp"
#include "aws/http.hpp"
#include "aws/s3.hpp"
#include "aws_fuzz_client.hpp"
#include "fuzz_check.hpp"
#include "prevayler/error.hpp"

namespace {

using namespace prevayler;
using namespace prevayler::aws;

// The last page of a listing: what the fake answers after the first call,
// so a fuzzed IsTruncated + NextContinuationToken cannot loop for ever.
constexpr std::string_view kLastPage =
    "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";

class CannedTransport : public HttpTransport {
 public:
  HttpResponse response;
  int calls = 0;
  HttpResponse send(const HttpRequest&) override {
    if (++calls == 1) return response;
    HttpResponse last;
    last.status = 200;
    last.body = std::string(kLastPage);
    return last;
  }
};

struct Fixture {
  std::shared_ptr<CannedTransport> transport = std::make_shared<CannedTransport>();
  S3Client client{
      fuzz::one_attempt_config<S3Config>("eu-west-1", "http://127.0.0.1:9000", transport)};
};

constexpr int kStatuses[] = {200, 200, 200, 206, 301, 400, 403, 404, 409, 412, 500, 503};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static Fixture fixture;
  const std::uint8_t selector = data[0];
  const int status = kStatuses[data[1] % (sizeof kStatuses / sizeof kStatuses[0])];
  std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::size_t header_bytes = std::min<std::size_t>(data[2], rest.size());
  const std::string header_value(rest.substr(0, header_bytes));
  rest.remove_prefix(header_bytes);

  HttpResponse& response = fixture.transport->response;
  response = HttpResponse{};
  response.status = status;
  response.headers = {{"x-amz-request-id", "FUZZREQUEST"}};
  if (selector & 0x08) {
    for (const char* name : {"Content-Range", "Content-Length", "ETag", "x-amz-bucket-region"})
      response.headers.emplace_back(name, header_value);
  }
  response.body = std::string(rest);
  fixture.transport->calls = 0;

  const std::string bucket = "fuzz-bucket";
  try {
    switch (selector & 7) {
      case 0:
        (void)fixture.client.list_objects_v2(bucket, "snapshots/");
        break;
      case 1:
        (void)fixture.client.create_multipart_upload(bucket, "snapshots/1");
        break;
      case 2:
        (void)fixture.client.complete_multipart_upload(bucket, "snapshots/1", "upload-1",
                                                       {{1, "\"etag1\""}, {2, "\"etag2\""}},
                                                       WriteCondition::if_none_match_star());
        break;
      case 3: {
        GetObjectResult r = fixture.client.get_object(bucket, "snapshots/1", ByteRange{0, 9});
        FUZZ_CHECK(status != 206 || r.body.size() <= 10);
        break;
      }
      case 4:
        (void)fixture.client.get_object(bucket, "snapshots/1");
        break;
      case 5:
        (void)fixture.client.put_object(bucket, "snapshots/1", "body",
                                        WriteCondition::if_match("\"etag\""));
        break;
      case 6:
        (void)fixture.client.head_object(bucket, "snapshots/1");
        break;
      case 7:
        fixture.client.abort_multipart_upload(bucket, "snapshots/1", "upload-1");
        break;
    }
  } catch (const Error&) {
    // AwsError and its subclasses, StorageError: the allowed failures.
  }
  return 0;
}
