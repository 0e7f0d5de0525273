#include "aws/curl_transport.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "auth_test_server.hpp"

namespace prevayler::aws {
namespace {

using auth_test::TestHttpServer;
using auth_test::TestRequest;
using auth_test::TestResponse;

constexpr std::size_t kLargeBodySize_bytes = 10 * 1024 * 1024;

// Echoes the method and body back, with a few headers describing the request.
TestResponse echo(const TestRequest& request) {
  TestResponse response;
  response.headers = {{"X-Method", request.method},
                      {"X-Body-Size", std::to_string(request.body.size())},
                      {"X-Multi", "one"},
                      {"X-Multi", "two"}};
  response.body = request.method + ":" + request.body;
  return response;
}

HttpRequest make_request(const std::string& method, const std::string& url, std::string body = "") {
  HttpRequest request;
  request.method = method;
  request.url = url;
  request.body = std::move(body);
  return request;
}

TEST(CurlTransportTest, SendsEachMethodWithHeadersAndBody) {
  TestHttpServer server(echo);
  auto transport = make_curl_transport();
  for (const std::string method : {"GET", "POST", "PUT", "DELETE"}) {
    HttpRequest request = make_request(method, server.url() + "/path/a%20b?x=1&y=2",
                                       method == "GET" ? "" : "payload-" + method);
    request.headers = {{"X-Custom", "value 1"}, {"X-Amz-Target", "DynamoDB_20120810.GetItem"}};
    const HttpResponse response = transport->send(request);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, method + ":" + request.body);
    ASSERT_NE(response.header("x-method"), nullptr);
    EXPECT_EQ(*response.header("X-METHOD"), method);
  }
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.target, "/path/a%20b?x=1&y=2");
    ASSERT_NE(r.header("X-Custom"), nullptr);
    EXPECT_EQ(*r.header("X-Custom"), "value 1");
    EXPECT_EQ(r.header("Expect"), nullptr) << "no 100-continue round trip";
    // curl's default form Content-Type would be unsigned and wrong for S3.
    EXPECT_EQ(r.header("Content-Type"), nullptr);
    if (r.method != "GET" && r.method != "DELETE") {
      ASSERT_NE(r.header("Content-Length"), nullptr);
      EXPECT_EQ(*r.header("Content-Length"), std::to_string(r.body.size()));
    }
  }
}

// SigV4 signs the path as given, so `.` and `..` segments (a snapshot_path
// such as "a/./b/../snapshot") must reach the server unchanged: curl
// squashes them unless told not to, and the signature no longer matches.
TEST(CurlTransportTest, SendsDotSegmentsOfThePathAsGiven) {
  TestHttpServer server(echo);
  auto transport = make_curl_transport();
  transport->send(make_request("GET", server.url() + "/bucket/a/./b/../snapshot"));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/bucket/a/./b/../snapshot");
}

TEST(CurlTransportTest, EmptyPutSendsContentLengthZeroAndKeepsGivenContentType) {
  TestHttpServer server(echo);
  auto transport = make_curl_transport();
  HttpRequest request = make_request("PUT", server.url() + "/empty");
  request.headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"Content-Length", "0"}};
  EXPECT_EQ(transport->send(request).status, 200);
  const auto seen = server.requests().at(0);
  ASSERT_NE(seen.header("Content-Length"), nullptr);
  EXPECT_EQ(*seen.header("Content-Length"), "0");
  ASSERT_NE(seen.header("Content-Type"), nullptr);
  EXPECT_EQ(*seen.header("Content-Type"), "application/x-amz-json-1.0");
  int content_length_headers = 0;
  for (const auto& [name, value] : seen.headers)
    content_length_headers += iequals(name, "content-length");
  EXPECT_EQ(content_length_headers, 1);
}

TEST(CurlTransportTest, HeadHasNoBodyButHeaders) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse response;
    response.headers = {{"ETag", "\"abc\""}};
    response.body = "not sent for HEAD";
    return response;
  });
  auto transport = make_curl_transport();
  const HttpResponse response = transport->send(make_request("HEAD", server.url() + "/k"));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.body.empty());
  ASSERT_NE(response.header("etag"), nullptr);
  EXPECT_EQ(*response.header("etag"), "\"abc\"");
  ASSERT_NE(response.header("content-length"), nullptr);
  EXPECT_EQ(*response.header("content-length"), "17");
}

TEST(CurlTransportTest, ReturnsErrorStatusesAndAllResponseHeaders) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse response;
    response.status = 503;
    response.headers = {{"x-amzn-RequestId", "RID"}, {"X-Multi", "one"}, {"X-Multi", "two"}};
    response.body = "{\"__type\":\"ServiceUnavailable\"}";
    return response;
  });
  auto transport = make_curl_transport();
  const HttpResponse response = transport->send(make_request("POST", server.url() + "/", "{}"));
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "{\"__type\":\"ServiceUnavailable\"}");
  ASSERT_NE(response.header("X-AMZN-REQUESTID"), nullptr);
  EXPECT_EQ(*response.header("x-amzn-requestid"), "RID");
  int multi = 0;
  for (const auto& [name, value] : response.headers) multi += iequals(name, "x-multi");
  EXPECT_EQ(multi, 2);
}

TEST(CurlTransportTest, SkipsHeadersOfInterimResponses) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse response;
    response.send_interim_100 = true;
    response.status = 201;
    response.headers = {{"X-Final", "yes"}};
    return response;
  });
  auto transport = make_curl_transport();
  const HttpResponse response = transport->send(make_request("PUT", server.url() + "/", "x"));
  EXPECT_EQ(response.status, 201);
  ASSERT_NE(response.header("x-final"), nullptr);
  for (const auto& [name, value] : response.headers) {
    EXPECT_FALSE(name.starts_with("HTTP/")) << name;
  }
}

TEST(CurlTransportTest, TransfersTenMebibyteBodiesBothWays) {
  TestHttpServer server([](const TestRequest& request) {
    TestResponse response;
    response.headers = {{"X-Body-Sha", std::to_string(request.body.size())}};
    response.body = request.method == "GET" ? std::string(kLargeBodySize_bytes, 'r') : "";
    if (request.method == "PUT") {
      bool pattern_ok = request.body.size() == kLargeBodySize_bytes;
      for (std::size_t i = 0; pattern_ok && i < request.body.size(); i += 4093) {
        pattern_ok = request.body[i] == static_cast<char>('a' + i % 26);
      }
      response.status = pattern_ok ? 200 : 400;
    }
    return response;
  });
  auto transport = make_curl_transport();
  std::string body(kLargeBodySize_bytes, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  EXPECT_EQ(transport->send(make_request("PUT", server.url() + "/big", body)).status, 200);
  const HttpResponse got = transport->send(make_request("GET", server.url() + "/big"));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body.size(), kLargeBodySize_bytes);
  EXPECT_EQ(got.body, std::string(kLargeBodySize_bytes, 'r'));
}

TEST(CurlTransportTest, ReusesTheConnectionAcrossSequentialRequests) {
  TestHttpServer server(echo);
  auto transport = make_curl_transport();
  constexpr int kRequests = 8;
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(transport->send(make_request(i % 2 ? "GET" : "POST", server.url() + "/", "b")).status,
              200);
  }
  EXPECT_EQ(server.requests().size(), static_cast<std::size_t>(kRequests));
  EXPECT_EQ(server.connections(), 1) << "keep-alive should reuse one connection";
}

TEST(CurlTransportTest, ReconnectsAfterTheServerClosesTheConnection) {
  std::atomic<int> calls{0};
  TestHttpServer server([&](const TestRequest&) {
    TestResponse response;
    response.close = ++calls == 1;
    return response;
  });
  auto transport = make_curl_transport();
  EXPECT_EQ(transport->send(make_request("GET", server.url() + "/")).status, 200);
  EXPECT_EQ(transport->send(make_request("GET", server.url() + "/")).status, 200);
  EXPECT_EQ(server.connections(), 2);
}

TEST(CurlTransportTest, IsSafeToUseFromSeveralThreads) {
  TestHttpServer server(echo);
  auto transport = make_curl_transport();
  constexpr int kThreads = 4;
  constexpr int kRequestsPerThread = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequestsPerThread; ++i) {
        const std::string body = std::to_string(t) + "-" + std::to_string(i);
        const HttpResponse r = transport->send(make_request("POST", server.url() + "/", body));
        if (r.status == 200 && r.body == "POST:" + body) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequestsPerThread);
  EXPECT_LE(server.connections(), kThreads);
}

TEST(CurlTransportTest, TimeOutIsATransportErrorThatMayHaveBeenDelivered) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse response;
    response.delay = std::chrono::milliseconds(3000);
    return response;
  });
  auto transport = make_curl_transport();
  HttpRequest request = make_request("POST", server.url() + "/slow?secret-free=query", "x");
  request.timeout = std::chrono::milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  try {
    transport->send(request);
    FAIL() << "expected a TransportError";
  } catch (const TransportError& e) {
    EXPECT_TRUE(e.maybe_delivered());
    const std::string what = e.what();
    EXPECT_NE(what.find("POST"), std::string::npos) << what;
    EXPECT_NE(what.find(server.url() + "/slow"), std::string::npos) << what;
    EXPECT_EQ(what.find("secret-free"), std::string::npos) << "query string left out: " << what;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500));
}

TEST(CurlTransportTest, TransportDefaultTimeOutApplies) {
  TestHttpServer server([](const TestRequest&) {
    TestResponse response;
    response.delay = std::chrono::milliseconds(3000);
    return response;
  });
  CurlTransportOptions options;
  options.request_timeout = std::chrono::milliseconds(200);
  auto transport = make_curl_transport(options);
  EXPECT_THROW(transport->send(make_request("GET", server.url() + "/")), TransportError);
}

TEST(CurlTransportTest, ConnectionRefusedIsATransportErrorNotDelivered) {
  int port = 0;
  {
    TestHttpServer server(echo);
    port = server.port();
  }  // closed: nothing listens on the port any more
  auto transport = make_curl_transport();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  try {
    transport->send(make_request("PUT", url, "body"));
    FAIL() << "expected a TransportError";
  } catch (const TransportError& e) {
    EXPECT_FALSE(e.maybe_delivered());
    EXPECT_NE(std::string(e.what()).find("PUT " + url), std::string::npos) << e.what();
  }
}

TEST(CurlTransportTest, TransportErrorIsAStorageError) {
  auto transport = make_curl_transport();
  // .invalid never resolves (RFC 6761).
  try {
    transport->send(make_request("GET", "http://no-such-host.invalid/"));
    FAIL() << "expected a TransportError";
  } catch (const StorageError& e) {
    const auto* transport_error = dynamic_cast<const TransportError*>(&e);
    ASSERT_NE(transport_error, nullptr);
    if (std::string(e.what()).find("Timeout") != std::string::npos) {
      GTEST_SKIP() << "the DNS resolver timed out instead of answering: " << e.what();
    }
    EXPECT_FALSE(transport_error->maybe_delivered()) << e.what();
  }
}

}  // namespace
}  // namespace prevayler::aws
