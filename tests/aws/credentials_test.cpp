#include "aws/credentials.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <mutex>
#include <thread>

#include "auth_test_env.hpp"
#include "auth_test_server.hpp"
#include "aws/curl_transport.hpp"

namespace prevayler::aws {
namespace {

using auth_test::iso8601;
using auth_test::ScopedAwsEnvironment;
using auth_test::TempDir;
using auth_test::TestHttpServer;
using auth_test::TestRequest;
using auth_test::TestResponse;
using Clock = std::chrono::system_clock;

constexpr const char* kSecret = "SECRETwJalrXUtnFEMI/K7MDENG+bPxRfiCYzzz";
constexpr const char* kSessionToken = "TOKENFwoGZXIvYXdzEJr//////////wEaDO";
constexpr const char* kWebIdentityToken = "eyJhbGciOiJSUzI1NiJ9.WEBIDENTITY.sig";

// A transport for tests where no request may go out.
class NoNetworkTransport final : public HttpTransport {
 public:
  HttpResponse send(const HttpRequest& request) override {
    ++calls;
    throw TransportError("unexpected request to " + request.url, false);
  }
  std::atomic<int> calls{0};
};

// Form field of an application/x-www-form-urlencoded body (no decoding
// needed for the values used here beyond %XX).
std::string form_field(const std::string& body, const std::string& name) {
  std::size_t start = 0;
  while (start <= body.size()) {
    auto end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(start, end - start);
    if (pair.starts_with(name + "=")) {
      std::string value = pair.substr(name.size() + 1);
      std::string out;
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '%' && i + 2 < value.size()) {
          out.push_back(static_cast<char>(std::stoi(value.substr(i + 1, 2), nullptr, 16)));
          i += 2;
        } else {
          out.push_back(value[i]);
        }
      }
      return out;
    }
    start = end + 1;
  }
  return {};
}

std::string json_credentials(const std::string& key_id, Clock::time_point expiration) {
  return std::string("{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"") + key_id +
         "\",\"SecretAccessKey\":\"" + kSecret + "\",\"Token\":\"" + kSessionToken +
         "\",\"Expiration\":\"" + iso8601(expiration) + "\"}";
}

std::string sts_response(const std::string& key_id, Clock::time_point expiration) {
  return std::string(
             "<AssumeRoleWithWebIdentityResponse "
             "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
             "  <AssumeRoleWithWebIdentityResult>\n"
             "    <SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>\n"
             "    <Credentials>\n"
             "      <SessionToken>") +
         kSessionToken + "</SessionToken>\n      <SecretAccessKey>" + kSecret +
         "</SecretAccessKey>\n      <Expiration>" + iso8601(expiration) +
         "</Expiration>\n      <AccessKeyId>" + key_id +
         "</AccessKeyId>\n    </Credentials>\n  </AssumeRoleWithWebIdentityResult>\n"
         "</AssumeRoleWithWebIdentityResponse>\n";
}

// Serves STS, the container endpoint and IMDSv2 on one loopback port, and
// counts the calls each gets.
struct FakeAwsEndpoints {
  std::atomic<int> sts_calls{0};
  std::atomic<int> container_calls{0};
  std::atomic<int> imds_calls{0};
  std::atomic<int> sts_status{200};
  std::atomic<int> container_status{200};
  std::chrono::seconds lifetime{3600};
  std::string container_body_override;
  std::mutex mutex;

  TestResponse handle(const TestRequest& r) {
    TestResponse response;
    std::lock_guard lock(mutex);
    const auto expiration = Clock::now() + lifetime;
    if (r.method == "POST" && r.path() == "/sts/") {
      const int n = ++sts_calls;
      response.status = sts_status;
      if (response.status != 200) {
        response.body = std::string(
                            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken"
                            "</Code><Message>bad token ") +
                        kWebIdentityToken + "</Message></Error></ErrorResponse>";
      } else {
        response.body = sts_response("ASIASTS" + std::to_string(n), expiration);
      }
    } else if (r.path() == "/container/creds") {
      const int n = ++container_calls;
      response.status = container_status;
      response.body = container_body_override.empty()
                          ? json_credentials("ASIAECS" + std::to_string(n), expiration)
                          : container_body_override;
    } else if (r.method == "PUT" && r.path() == "/latest/api/token") {
      ++imds_calls;
      const auto* ttl = r.header("X-aws-ec2-metadata-token-ttl-seconds");
      response.status = ttl != nullptr ? 200 : 400;
      response.body = "IMDSTOKEN";
    } else if (r.path().starts_with("/latest/meta-data/iam/security-credentials/")) {
      ++imds_calls;
      const auto* token = r.header("X-aws-ec2-metadata-token");
      if (token == nullptr || *token != "IMDSTOKEN") {
        response.status = 401;
      } else if (r.path() == "/latest/meta-data/iam/security-credentials/") {
        response.body = "my-role\n";
      } else if (r.path() == "/latest/meta-data/iam/security-credentials/my-role") {
        response.body = json_credentials("ASIAIMDS", expiration);
      } else {
        response.status = 404;
      }
    } else {
      response.status = 404;
    }
    return response;
  }
};

class CredentialsTest : public ::testing::Test {
 protected:
  CredentialsTest()
      : server_([this](const TestRequest& r) { return fake_.handle(r); }),
        transport_(make_curl_transport()) {
    env_.set("HOME", home_.path().string());
    base_.shared_credentials_file = (dir_.path() / "credentials").string();
    base_.config_file = (dir_.path() / "config").string();
    base_.region = "us-east-1";
    base_.sts_endpoint = server_.url() + "/sts";
    // Never reach for the real 169.254.169.254 unless a test says so.
    base_.imds_disabled = true;
    base_.imds_endpoint = server_.url();
  }

  CredentialsEnvironment with_web_identity() {
    CredentialsEnvironment env = base_;
    env.web_identity_token_file = dir_.write("token", std::string(kWebIdentityToken) + "\n");
    env.role_arn = "arn:aws:iam::123456789012:role/prevayler";
    env.role_session_name = "test-session";
    return env;
  }

  CredentialsEnvironment with_container() {
    CredentialsEnvironment env = base_;
    env.container_credentials_full_uri = server_.url() + "/container/creds";
    return env;
  }

  ScopedAwsEnvironment env_;
  TempDir home_;
  TempDir dir_;
  FakeAwsEndpoints fake_;
  TestHttpServer server_;
  std::shared_ptr<HttpTransport> transport_;
  CredentialsEnvironment base_;
};

TEST_F(CredentialsTest, StaticCredentials) {
  auto provider = static_credentials({"AKID", kSecret, "", std::nullopt});
  const Credentials c = provider->get();
  EXPECT_EQ(c.access_key_id, "AKID");
  EXPECT_EQ(c.secret_access_key, kSecret);
  EXPECT_FALSE(c.expiration.has_value());
}

TEST_F(CredentialsTest, EnvironmentVariables) {
  CredentialsEnvironment env = base_;
  env.access_key_id = "AKIDENV";
  env.secret_access_key = kSecret;
  env.session_token = kSessionToken;
  auto no_network = std::make_shared<NoNetworkTransport>();
  const Credentials c = default_credentials_chain(no_network, env)->get();
  EXPECT_EQ(c.access_key_id, "AKIDENV");
  EXPECT_EQ(c.secret_access_key, kSecret);
  EXPECT_EQ(c.session_token, kSessionToken);
  EXPECT_EQ(no_network->calls, 0);
}

TEST_F(CredentialsTest, SharedCredentialsFileProfile) {
  dir_.write("credentials",
             "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n"
             "[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=" +
                 std::string(kSecret) + "\naws_session_token = " + kSessionToken + "\n");
  CredentialsEnvironment env = base_;
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "AKIDDEFAULT");
  env.profile = "dev";
  const Credentials c = default_credentials_chain(transport_, env)->get();
  EXPECT_EQ(c.access_key_id, "AKIDDEV");
  EXPECT_EQ(c.secret_access_key, kSecret);
  EXPECT_EQ(c.session_token, kSessionToken);
}

TEST_F(CredentialsTest, ConfigFileProfileAndCredentialsFileWins) {
  dir_.write("config",
             "[profile cfg]\naws_access_key_id = AKIDCFG\naws_secret_access_key = s\n"
             "[profile both]\naws_access_key_id = AKIDFROMCONFIG\naws_secret_access_key = s\n");
  dir_.write("credentials",
             "[both]\naws_access_key_id = AKIDFROMCREDS\naws_secret_access_key = s\n");
  CredentialsEnvironment env = base_;
  env.profile = "cfg";
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "AKIDCFG");
  env.profile = "both";
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "AKIDFROMCREDS");
}

TEST_F(CredentialsTest, WebIdentityFromEnvironment) {
  const auto before = Clock::now();
  const Credentials c = default_credentials_chain(transport_, with_web_identity())->get();
  EXPECT_EQ(c.access_key_id, "ASIASTS1");
  EXPECT_EQ(c.secret_access_key, kSecret);
  EXPECT_EQ(c.session_token, kSessionToken);
  ASSERT_TRUE(c.expiration.has_value());
  EXPECT_GT(*c.expiration, before + std::chrono::minutes(59));
  EXPECT_LT(*c.expiration, before + std::chrono::minutes(61));

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const TestRequest& sts = requests[0];
  EXPECT_EQ(form_field(sts.body, "Action"), "AssumeRoleWithWebIdentity");
  EXPECT_EQ(form_field(sts.body, "Version"), "2011-06-15");
  EXPECT_EQ(form_field(sts.body, "RoleArn"), "arn:aws:iam::123456789012:role/prevayler");
  EXPECT_EQ(form_field(sts.body, "RoleSessionName"), "test-session");
  EXPECT_EQ(form_field(sts.body, "WebIdentityToken"), kWebIdentityToken);
  EXPECT_EQ(sts.header("Authorization"), nullptr) << "AssumeRoleWithWebIdentity is unsigned";
}

TEST_F(CredentialsTest, WebIdentityFromProfile) {
  const std::string token_file = dir_.write("profile-token", kWebIdentityToken);
  dir_.write("config", "[profile wi]\nweb_identity_token_file = " + token_file +
                           "\nrole_arn = arn:aws:iam::1:role/r\n");
  CredentialsEnvironment env = base_;
  env.profile = "wi";
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "ASIASTS1");
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(form_field(requests[0].body, "RoleArn"), "arn:aws:iam::1:role/r");
  EXPECT_TRUE(form_field(requests[0].body, "RoleSessionName").starts_with("prevayler-cpp-"));
}

TEST_F(CredentialsTest, WebIdentityFailureIsAStorageErrorWithoutTheToken) {
  fake_.sts_status = 403;
  try {
    default_credentials_chain(transport_, with_web_identity())->get();
    FAIL() << "expected StorageError";
  } catch (const StorageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("403"), std::string::npos) << what;
    EXPECT_NE(what.find("InvalidIdentityToken"), std::string::npos) << what;
    EXPECT_NE(what.find("arn:aws:iam::123456789012:role/prevayler"), std::string::npos) << what;
    EXPECT_EQ(what.find(kWebIdentityToken), std::string::npos) << what;
  }
}

TEST_F(CredentialsTest, IncompleteWebIdentityIsAConfigError) {
  CredentialsEnvironment env = base_;
  env.role_arn = "arn:aws:iam::1:role/r";
  EXPECT_THROW(default_credentials_chain(transport_, env)->get(), ConfigError);
}

TEST_F(CredentialsTest, ContainerFullUriWithTokenFile) {
  CredentialsEnvironment env = with_container();
  env.container_authorization_token = "ignored-when-file-set";
  env.container_authorization_token_file = dir_.write("ecs-token", "ECSAUTH\n");
  const Credentials c = default_credentials_chain(transport_, env)->get();
  EXPECT_EQ(c.access_key_id, "ASIAECS1");
  EXPECT_EQ(c.session_token, kSessionToken);
  ASSERT_TRUE(c.expiration.has_value());
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  ASSERT_NE(requests[0].header("Authorization"), nullptr);
  EXPECT_EQ(*requests[0].header("Authorization"), "ECSAUTH");
}

TEST_F(CredentialsTest, ContainerTokenFromEnvironment) {
  CredentialsEnvironment env = with_container();
  env.container_authorization_token = "ECSENVTOKEN";
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "ASIAECS1");
  ASSERT_NE(server_.requests().at(0).header("Authorization"), nullptr);
  EXPECT_EQ(*server_.requests().at(0).header("Authorization"), "ECSENVTOKEN");
}

TEST_F(CredentialsTest, ContainerFullUriOverPlainHttpMustBeLocal) {
  CredentialsEnvironment env = base_;
  env.container_credentials_full_uri = "http://example.com/creds";
  EXPECT_THROW(default_credentials_chain(transport_, env)->get(), ConfigError);
}

TEST_F(CredentialsTest, Imdsv2) {
  CredentialsEnvironment env = base_;
  env.imds_disabled = false;
  const Credentials c = default_credentials_chain(transport_, env)->get();
  EXPECT_EQ(c.access_key_id, "ASIAIMDS");
  EXPECT_EQ(c.secret_access_key, kSecret);
  EXPECT_EQ(c.session_token, kSessionToken);
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].path(), "/latest/api/token");
  ASSERT_NE(requests[0].header("X-aws-ec2-metadata-token-ttl-seconds"), nullptr);
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[2].path(), "/latest/meta-data/iam/security-credentials/my-role");
}

TEST_F(CredentialsTest, NothingConfiguredIsAConfigErrorListingEveryPlaceFast) {
  CredentialsEnvironment env = base_;
  env.imds_disabled = false;
  TestHttpServer closed([](const TestRequest&) { return TestResponse{}; });
  env.imds_endpoint = closed.url();
  closed.stop();  // connection refused, as on a machine without IMDS
  const auto start = std::chrono::steady_clock::now();
  try {
    default_credentials_chain(transport_, env)->get();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    for (const std::string& place : std::vector<std::string>{
             "AWS_ACCESS_KEY_ID", base_.shared_credentials_file, base_.config_file,
             "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS", "EC2 instance metadata"}) {
      EXPECT_NE(what.find(place), std::string::npos) << place << " missing from: " << what;
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(CredentialsTest, ImdsDisabledIsReported) {
  try {
    default_credentials_chain(transport_, base_)->get();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("AWS_EC2_METADATA_DISABLED"), std::string::npos);
  }
  EXPECT_EQ(fake_.imds_calls, 0);
}

TEST_F(CredentialsTest, ChainOrderPrecedence) {
  // Everything configured at once: each step down removes the winner.
  dir_.write("credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n");
  CredentialsEnvironment env = with_web_identity();
  env.container_credentials_full_uri = server_.url() + "/container/creds";
  env.imds_disabled = false;
  env.access_key_id = "AKIDENV";
  env.secret_access_key = "s";
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "AKIDENV");
  env.access_key_id.reset();
  env.secret_access_key.reset();
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "AKIDFILE");
  std::filesystem::remove(env.shared_credentials_file);
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "ASIASTS1");
  env.web_identity_token_file.reset();
  env.role_arn.reset();
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "ASIAECS1");
  env.container_credentials_full_uri.reset();
  EXPECT_EQ(default_credentials_chain(transport_, env)->get().access_key_id, "ASIAIMDS");
  EXPECT_EQ(fake_.sts_calls, 1);
  EXPECT_EQ(fake_.container_calls, 1);
  EXPECT_EQ(fake_.imds_calls, 3);
}

TEST_F(CredentialsTest, CachesUntilCloseToExpiry) {
  fake_.lifetime = std::chrono::hours(1);
  auto provider = default_credentials_chain(transport_, with_container());
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS1");
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS1");
  EXPECT_EQ(fake_.container_calls, 1);
}

TEST_F(CredentialsTest, RefreshesWithinTheMarginBeforeExpiry) {
  fake_.lifetime = std::chrono::seconds(60);  // inside the refresh margin
  auto provider = default_credentials_chain(transport_, with_container());
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS1");
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS2");
  EXPECT_EQ(fake_.container_calls, 2);

  auto sts_provider = default_credentials_chain(transport_, with_web_identity());
  EXPECT_EQ(sts_provider->get().access_key_id, "ASIASTS1");
  EXPECT_EQ(sts_provider->get().access_key_id, "ASIASTS2");
}

TEST_F(CredentialsTest, FailedEarlyRefreshKeepsStillValidCredentials) {
  fake_.lifetime = std::chrono::seconds(120);
  auto provider = default_credentials_chain(transport_, with_container());
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS1");
  fake_.container_status = 500;
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS1");
  EXPECT_EQ(fake_.container_calls, 2);
}

TEST_F(CredentialsTest, ExpiredCredentialsAndFailedRefreshThrow) {
  fake_.lifetime = std::chrono::seconds(-10);
  auto provider = default_credentials_chain(transport_, with_container());
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS1");
  fake_.container_status = 500;
  EXPECT_THROW(provider->get(), StorageError);
}

TEST_F(CredentialsTest, ConcurrentCallersShareOneFetch) {
  auto provider = default_credentials_chain(transport_, with_container());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) ok += provider->get().access_key_id == "ASIAECS1";
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(fake_.container_calls, 1);
}

TEST_F(CredentialsTest, ErrorMessagesNeverContainSecrets) {
  const auto expect_clean = [](const std::string& what) {
    EXPECT_EQ(what.find(kSecret), std::string::npos) << what;
    EXPECT_EQ(what.find(kSessionToken), std::string::npos) << what;
    EXPECT_EQ(what.find(kWebIdentityToken), std::string::npos) << what;
    EXPECT_EQ(what.find("ECSSECRETTOKEN"), std::string::npos) << what;
  };
  // Malformed JSON that contains the secret (JSON parsers quote the input).
  fake_.container_body_override = std::string("{\"SecretAccessKey\":\"") + kSecret + "\" oops";
  CredentialsEnvironment env = with_container();
  env.container_authorization_token = "ECSSECRETTOKEN";
  try {
    default_credentials_chain(transport_, env)->get();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    expect_clean(e.what());
  }
  // Valid JSON without an access key id.
  fake_.container_body_override = std::string("{\"SecretAccessKey\":\"") + kSecret + "\"}";
  try {
    default_credentials_chain(transport_, env)->get();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    expect_clean(e.what());
  }
  // Failing endpoint.
  fake_.container_body_override.clear();
  fake_.container_status = 500;
  try {
    default_credentials_chain(transport_, env)->get();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    expect_clean(e.what());
  }
  // STS rejecting the token, and echoing it back.
  fake_.sts_status = 400;
  try {
    default_credentials_chain(transport_, with_web_identity())->get();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    expect_clean(e.what());
  }
  // Half-configured environment.
  CredentialsEnvironment half = base_;
  half.secret_access_key = kSecret;
  half.session_token = kSessionToken;
  try {
    default_credentials_chain(transport_, half)->get();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    expect_clean(e.what());
  }
}

TEST_F(CredentialsTest, EnvironmentFromProcess) {
  env_.set("AWS_ACCESS_KEY_ID", "AKIDPROC");
  env_.set("AWS_SECRET_ACCESS_KEY", kSecret);
  env_.set("AWS_PROFILE", "p");
  env_.set("AWS_REGION", "eu-central-1");
  env_.set("AWS_ROLE_ARN", "arn:aws:iam::1:role/r");
  env_.set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds");
  env_.set("AWS_EC2_METADATA_DISABLED", "TRUE");
  CredentialsEnvironment env = credentials_environment_from_process();
  EXPECT_EQ(env.access_key_id, "AKIDPROC");
  EXPECT_EQ(env.secret_access_key, kSecret);
  EXPECT_FALSE(env.session_token.has_value());
  EXPECT_EQ(env.profile, "p");
  EXPECT_EQ(env.region, "eu-central-1");
  EXPECT_EQ(env.shared_credentials_file, (home_.path() / ".aws/credentials").string());
  EXPECT_EQ(env.config_file, (home_.path() / ".aws/config").string());
  EXPECT_EQ(env.sts_endpoint, "https://sts.eu-central-1.amazonaws.com");
  EXPECT_EQ(env.role_arn, "arn:aws:iam::1:role/r");
  EXPECT_EQ(env.container_credentials_relative_uri, "/v2/creds");
  EXPECT_TRUE(env.imds_disabled);
  EXPECT_EQ(env.imds_endpoint, "http://169.254.169.254");

  env_.set("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1234");
  env_.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://[fd00:ec2::254]");
  env_.unset("AWS_EC2_METADATA_DISABLED");
  env = credentials_environment_from_process();
  EXPECT_EQ(env.sts_endpoint, "http://127.0.0.1:1234");
  EXPECT_EQ(env.imds_endpoint, "http://[fd00:ec2::254]");
  EXPECT_FALSE(env.imds_disabled);
}

TEST_F(CredentialsTest, EnvironmentFromProcessDefaults) {
  const CredentialsEnvironment env = credentials_environment_from_process();
  EXPECT_FALSE(env.access_key_id.has_value());
  EXPECT_EQ(env.profile, "default");
  EXPECT_TRUE(env.region.empty());
  EXPECT_TRUE(env.sts_endpoint.empty()) << "global STS endpoint chosen at use";
  EXPECT_FALSE(env.imds_disabled);
}

}  // namespace
}  // namespace prevayler::aws
