// libFuzzer target: how the DynamoDB client reads responses (JSON bodies,
// error bodies in JSON or XML, the x-amz-crc32 check). The parsing helpers
// are private to src/aws/dynamodb.cpp, so the public client is driven
// through a fake HttpTransport that answers with the fuzz input.
//
// Input: byte 0 picks the operation (bits 0-1), the status (bit 2: 200 or
// 400; bit 5 makes it 500 or 413), and the x-amz-crc32 header (bits 3-4:
// none, matching, matching, garbage); the rest is the response body.
//
// Property: each call returns or throws a prevayler::Error subclass; never a
// crash, a leak, UB, or another exception type (a nlohmann::json exception
// escaping would reach the engine as an unexpected error type). A 200 with
// the right CRC must not be reported as a CRC failure.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aws/aws_error.hpp"
#include "aws/crypto.hpp"
#include "aws/dynamodb.hpp"
#include "aws/http.hpp"
#include "aws_fuzz_client.hpp"
#include "fuzz_check.hpp"
#include "prevayler/error.hpp"

namespace {

using namespace prevayler;
using namespace prevayler::aws;

// Answers every request with the same canned response.
class CannedTransport : public HttpTransport {
 public:
  HttpResponse response;
  int calls = 0;
  HttpResponse send(const HttpRequest&) override {
    // put_item_if_absent may read the item back once; more would be a loop.
    FUZZ_CHECK(++calls <= 4);
    return response;
  }
};

struct Fixture {
  std::shared_ptr<CannedTransport> transport = std::make_shared<CannedTransport>();
  DynamoDbClient client{
      fuzz::one_attempt_config<DynamoDbConfig>("us-east-1", "http://127.0.0.1:8000", transport)};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static Fixture fixture;  // the client is immutable; build it once
  const std::uint8_t selector = data[0];
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);

  HttpResponse& response = fixture.transport->response;
  response = HttpResponse{};
  response.status =
      (selector & 0x04) ? ((selector & 0x20) ? 500 : 400) : ((selector & 0x20) ? 413 : 200);
  response.headers = {{"x-amzn-RequestId", "FUZZREQUEST"},
                      {"Content-Type", "application/x-amz-json-1.0"}};
  const int crc_mode = (selector >> 3) & 3;
  const bool crc_matches = crc_mode == 1 || crc_mode == 2;
  if (crc_matches) {
    response.headers.emplace_back("x-amz-crc32", std::to_string(crc32(body)));
  } else if (crc_mode == 3) {
    response.headers.emplace_back("x-amz-crc32", body.substr(0, 12));
  }
  response.body = std::move(body);
  fixture.transport->calls = 0;

  try {
    switch (selector & 3) {
      case 0: {
        QueryPage page = fixture.client.query_page("journal", 3, 5, 100, true, 1);
        for (std::size_t i = 1; i < page.items.size(); ++i)
          (void)page.items[i].content.size();  // touch what was decoded
        break;
      }
      case 1: {
        PutIfAbsentResult r = fixture.client.put_item_if_absent("journal", 3, 5, "content");
        FUZZ_CHECK(r.stored() || !r.after_ambiguous_attempt);  // one attempt: never ambiguous
        break;
      }
      case 2:
        (void)fixture.client.describe_table("journal");
        break;
      case 3:
        (void)fixture.client.check_journal_table("journal");
        break;
    }
  } catch (const AwsError& e) {
    if (crc_matches) FUZZ_CHECK(e.code() != "CRC32CheckFailed");
  } catch (const Error&) {
    // CorruptionError, StorageError, ConfigError (JournalTableSchemaError):
    // the allowed failures.
  }
  return 0;
}
