// The profile sources of the credentials chain: credential_process and roles
// assumed through STS AssumeRole (source_profile, credential_source), against
// moto's STS and a fake STS for what moto cannot show (expiry, errors).
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "auth_test_env.hpp"
#include "auth_test_server.hpp"
#include "aws/credentials.hpp"
#include "aws/sigv4.hpp"
#include "moto_server.hpp"

namespace prevayler::aws {
namespace {

using auth_test::iso8601;
using auth_test::ScopedAwsEnvironment;
using auth_test::TempDir;
using auth_test::TestHttpServer;
using auth_test::TestRequest;
using auth_test::TestResponse;
using Clock = std::chrono::system_clock;

constexpr const char* kSecret = "SECRETprocessXUtnFEMI/K7MDENG+bPxRfiCYqqq";
constexpr const char* kSessionToken = "TOKENprocessZXIvYXdzEJr//////////wEaDO";
constexpr const char* kRole = "arn:aws:iam::123456789012:role/prevayler-test";

// Records every request and response that goes through it.
class RecordingTransport final : public HttpTransport {
 public:
  explicit RecordingTransport(std::shared_ptr<HttpTransport> inner) : inner_(std::move(inner)) {}
  HttpResponse send(const HttpRequest& request) override {
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    return inner_->send(request);
  }
  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  std::shared_ptr<HttpTransport> inner_;
  mutable std::mutex mutex_;
  std::vector<HttpRequest> requests_;
};

// A transport for tests where no request may go out.
class NoNetworkTransport final : public HttpTransport {
 public:
  HttpResponse send(const HttpRequest& request) override {
    ++calls;
    throw TransportError("unexpected request to " + request.url, false);
  }
  std::atomic<int> calls{0};
};

const std::string* find_header(const HttpRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (iequals(key, name)) return &value;
  }
  return nullptr;
}

// The access key id an Authorization header was signed with.
std::string signing_key_id(const HttpRequest& request) {
  const std::string* authorization = find_header(request, "Authorization");
  if (authorization == nullptr) return {};
  const auto start = authorization->find("Credential=");
  if (start == std::string::npos) return {};
  const auto from = start + std::string("Credential=").size();
  return authorization->substr(from, authorization->find('/', from) - from);
}

bool has_form_field(const std::string& body, const std::string& pair) {
  return ("&" + body + "&").find("&" + pair + "&") != std::string::npos;
}

class CredentialsProfileTest : public ::testing::Test {
 protected:
  CredentialsProfileTest() {
    env_.set("HOME", home_.path().string());
    base_.shared_credentials_file = (dir_.path() / "credentials").string();
    base_.config_file = (dir_.path() / "config").string();
    base_.region = testing::kTestRegion;
    base_.imds_disabled = true;
  }

  // An executable shell script in the test directory; returns its path.
  std::string script(const std::string& name, const std::string& body) {
    const std::string path = dir_.write(name, "#!/bin/sh\n" + body);
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }

  std::string process_json(const std::string& key_id,
                           std::optional<Clock::time_point> expiration) const {
    std::string json = "{\"Version\": 1, \"AccessKeyId\": \"" + key_id +
                       "\", \"SecretAccessKey\": \"" + kSecret + "\", \"SessionToken\": \"" +
                       kSessionToken + "\"";
    if (expiration) json += ", \"Expiration\": \"" + iso8601(*expiration) + "\"";
    return json + "}";
  }

  // Against moto's STS, recording what is sent.
  CredentialsEnvironment with_moto() {
    CredentialsEnvironment env = base_;
    env.sts_endpoint = testing::moto().endpoint();
    return env;
  }

  // STS GetCallerIdentity signed with `c`: the ARN moto says they belong to.
  static std::string caller_arn(const Credentials& c) {
    HttpRequest request;
    request.method = "POST";
    request.url = testing::moto().endpoint() + "/";
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    request.body = "Action=GetCallerIdentity&Version=2011-06-15";
    SigningOptions options;
    options.region = testing::kTestRegion;
    options.service = "sts";
    options.time = Clock::now();
    sign_request(request, c, options);
    const HttpResponse response = testing::test_transport()->send(request);
    EXPECT_EQ(response.status, 200) << response.body;
    pugi::xml_document doc;
    doc.load_buffer(response.body.data(), response.body.size());
    return doc.child("GetCallerIdentityResponse")
        .child("GetCallerIdentityResult")
        .child_value("Arn");
  }

  ScopedAwsEnvironment env_;
  TempDir home_;
  TempDir dir_;
  CredentialsEnvironment base_;
  std::shared_ptr<RecordingTransport> recording_ =
      std::make_shared<RecordingTransport>(testing::test_transport());
  std::shared_ptr<NoNetworkTransport> no_network_ = std::make_shared<NoNetworkTransport>();
};

template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

// ---------------------------------------------------------------------------
// credential_process

TEST_F(CredentialsProfileTest, CredentialProcessThroughTheShell) {
  const auto expiration = Clock::now() + std::chrono::hours(1);
  // A path with a space, quoted, and an argument the script checks: the
  // command line is interpreted by the shell, as in the AWS SDKs.
  const std::string tool = script("my tools/creds.sh",
                                  "[ \"$1\" = \"--user\" ] || exit 9\n"
                                  "[ \"$2\" = \"helen b\" ] || exit 8\n"
                                  "echo '" +
                                      process_json("AKIDPROC", expiration) + "'\n");
  dir_.write("config", "[profile proc]\ncredential_process = \"" + tool +
                           "\" --user \"helen b\"\nregion = us-east-1\n");
  CredentialsEnvironment env = base_;
  env.profile = "proc";
  const Credentials c = default_credentials_chain(no_network_, env)->get();
  EXPECT_EQ(c.access_key_id, "AKIDPROC");
  EXPECT_EQ(c.secret_access_key, kSecret);
  EXPECT_EQ(c.session_token, kSessionToken);
  ASSERT_TRUE(c.expiration.has_value());
  EXPECT_EQ(Clock::to_time_t(*c.expiration), Clock::to_time_t(expiration));
  EXPECT_EQ(no_network_->calls, 0);
}

TEST_F(CredentialsProfileTest, CredentialProcessRefreshesBeforeExpiration) {
  // Each run prints the next key id; the counter lives in a file.
  const std::string counter = dir_.write("runs", "0");
  const auto run_script = [&](Clock::time_point expiration) {
    return script("counting.sh", "n=$(( $(cat '" + counter + "') + 1 ))\necho $n > '" + counter +
                                     "'\necho '" + process_json("AKID'$n'", expiration) + "'\n");
  };
  const std::string tool = run_script(Clock::now() + std::chrono::seconds(60));
  dir_.write("config", "[profile proc]\ncredential_process = " + tool + "\n");
  CredentialsEnvironment env = base_;
  env.profile = "proc";
  auto provider = default_credentials_chain(no_network_, env);
  // Expiring within the refresh margin: every get() runs the command again.
  EXPECT_EQ(provider->get().access_key_id, "AKID1");
  EXPECT_EQ(provider->get().access_key_id, "AKID2");

  // Far from expiry: cached.
  run_script(Clock::now() + std::chrono::hours(1));
  auto cached = default_credentials_chain(no_network_, env);
  EXPECT_EQ(cached->get().access_key_id, "AKID3");
  EXPECT_EQ(cached->get().access_key_id, "AKID3");

  // No Expiration: long-term credentials, never run again.
  script("counting.sh", "n=$(( $(cat '" + counter + "') + 1 ))\necho $n > '" + counter +
                            "'\necho '" + process_json("AKID'$n'", std::nullopt) + "'\n");
  auto long_term = default_credentials_chain(no_network_, env);
  const Credentials c = long_term->get();
  EXPECT_EQ(c.access_key_id, "AKID4");
  EXPECT_FALSE(c.expiration.has_value());
  EXPECT_EQ(long_term->get().access_key_id, "AKID4");
}

TEST_F(CredentialsProfileTest, CredentialProcessFailuresNameTheProfileNeverTheSecret) {
  CredentialsEnvironment env = base_;
  env.profile = "failing";
  int scripts = 0;
  const auto error_with = [&](const std::string& body) {
    const std::string tool = script("tool-" + std::to_string(++scripts) + ".sh", body);
    dir_.write("config", "[profile failing]\ncredential_process = " + tool + " --secret-arg\n");
    const std::string what =
        error_of<StorageError>([&] { default_credentials_chain(no_network_, env)->get(); });
    EXPECT_NE(what.find("profile 'failing'"), std::string::npos) << what;
    EXPECT_NE(what.find(base_.config_file), std::string::npos) << what;
    EXPECT_NE(what.find(tool), std::string::npos) << what;
    EXPECT_EQ(what.find("--secret-arg"), std::string::npos) << what;
    EXPECT_EQ(what.find(kSecret), std::string::npos) << what;
    EXPECT_EQ(what.find(kSessionToken), std::string::npos) << what;
    return what;
  };
  const std::string valid = process_json("AKIDX", std::nullopt);

  // Non-zero exit, even after printing valid credentials.
  std::string what = error_with("echo '" + valid + "'\necho 'denied' >&2\nexit 3\n");
  EXPECT_NE(what.find("exited with status 3"), std::string::npos) << what;
  // Killed by a signal.
  what = error_with("kill -TERM $$\n");
  EXPECT_NE(what.find("signal"), std::string::npos) << what;
  // Output that is not JSON but contains the secret.
  what = error_with(std::string("echo '{\"SecretAccessKey\": \"") + kSecret + "\" oops'\n");
  EXPECT_NE(what.find("JSON"), std::string::npos) << what;
  // JSON of another version, or without the keys.
  what = error_with(std::string("echo '{\"Version\": 2, \"AccessKeyId\": \"A\", "
                                "\"SecretAccessKey\": \"") +
                    kSecret + "\"}'\n");
  EXPECT_NE(what.find("Version"), std::string::npos) << what;
  what = error_with(std::string("echo '{\"Version\": 1, \"SecretAccessKey\": \"") + kSecret +
                    "\"}'\n");
  EXPECT_NE(what.find("AccessKeyId"), std::string::npos) << what;
  what = error_with(std::string("echo '{\"Version\": 1, \"AccessKeyId\": \"A\", "
                                "\"SecretAccessKey\": \"") +
                    kSecret + "\", \"Expiration\": \"tomorrow\"}'\n");
  EXPECT_NE(what.find("Expiration"), std::string::npos) << what;

  // A command that does not exist.
  dir_.write("config", "[profile failing]\ncredential_process = " +
                           (dir_.path() / "no-such-tool").string() + "\n");
  what = error_of<StorageError>([&] { default_credentials_chain(no_network_, env)->get(); });
  EXPECT_NE(what.find("status 127"), std::string::npos) << what;
  EXPECT_NE(what.find("profile 'failing'"), std::string::npos) << what;
}

// ---------------------------------------------------------------------------
// Roles: against moto's STS

TEST_F(CredentialsProfileTest, AssumeRoleWithSourceProfileAgainstMoto) {
  dir_.write("credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " +
                                std::string(kSecret) + "\n");
  dir_.write("config", std::string("[profile deploy]\nrole_arn = ") + kRole +
                           "\nsource_profile = base\nrole_session_name = ops-session\n"
                           "external_id = ext-42\nduration_seconds = 1800\n");
  CredentialsEnvironment env = with_moto();
  env.profile = "deploy";
  const auto before = Clock::now();
  const Credentials c = default_credentials_chain(recording_, env)->get();
  EXPECT_TRUE(c.access_key_id.starts_with("ASIA")) << c.access_key_id;
  EXPECT_FALSE(c.secret_access_key.empty());
  EXPECT_FALSE(c.session_token.empty());
  ASSERT_TRUE(c.expiration.has_value());
  EXPECT_GT(*c.expiration, before + std::chrono::minutes(29));
  EXPECT_LT(*c.expiration, before + std::chrono::minutes(31));

  const auto requests = recording_->requests();
  ASSERT_EQ(requests.size(), 1u);
  const HttpRequest& sts = requests[0];
  EXPECT_EQ(sts.method, "POST");
  EXPECT_EQ(sts.url, testing::moto().endpoint() + "/");
  EXPECT_TRUE(has_form_field(sts.body, "Action=AssumeRole")) << sts.body;
  EXPECT_TRUE(has_form_field(sts.body, "RoleSessionName=ops-session")) << sts.body;
  EXPECT_TRUE(has_form_field(sts.body, "ExternalId=ext-42")) << sts.body;
  EXPECT_TRUE(has_form_field(sts.body, "DurationSeconds=1800")) << sts.body;
  EXPECT_EQ(signing_key_id(sts), "AKIDBASE") << "signed with the source profile's keys";
  ASSERT_NE(find_header(sts, "Authorization"), nullptr);
  EXPECT_NE(find_header(sts, "Authorization")->find("/us-east-1/sts/aws4_request"),
            std::string::npos);

  // The credentials are the role's.
  EXPECT_EQ(caller_arn(c), "arn:aws:sts::123456789012:assumed-role/prevayler-test/ops-session");
}

TEST_F(CredentialsProfileTest, ChainedSourceProfilesAgainstMoto) {
  dir_.write("credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s\n");
  dir_.write("config",
             "[profile first]\nrole_arn = arn:aws:iam::123456789012:role/first\n"
             "source_profile = base\nrole_session_name = one\n"
             "[profile second]\nrole_arn = arn:aws:iam::123456789012:role/second\n"
             "source_profile = first\nrole_session_name = two\n");
  CredentialsEnvironment env = with_moto();
  env.profile = "second";
  const Credentials c = default_credentials_chain(recording_, env)->get();
  const auto requests = recording_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(has_form_field(requests[0].body, "RoleSessionName=one"));
  EXPECT_EQ(signing_key_id(requests[0]), "AKIDBASE");
  EXPECT_TRUE(has_form_field(requests[1].body, "RoleSessionName=two"));
  const std::string first_key = signing_key_id(requests[1]);
  EXPECT_TRUE(first_key.starts_with("ASIA")) << "second role assumed with the first's keys";
  EXPECT_NE(first_key, c.access_key_id);
  EXPECT_EQ(caller_arn(c), "arn:aws:sts::123456789012:assumed-role/second/two");
}

TEST_F(CredentialsProfileTest, CredentialSourceEnvironmentAgainstMoto) {
  dir_.write("config", std::string("[profile envrole]\nrole_arn = ") + kRole +
                           "\ncredential_source = Environment\nrole_session_name = from-env\n");
  CredentialsEnvironment env = with_moto();
  env.profile = "envrole";
  env.access_key_id = "AKIDENVSOURCE";
  env.secret_access_key = kSecret;
  // As `aws --profile envrole`: the environment's keys assume the role.
  const Credentials c = profile_credentials(recording_, env)->get();
  EXPECT_TRUE(c.access_key_id.starts_with("ASIA")) << c.access_key_id;
  ASSERT_EQ(recording_->requests().size(), 1u);
  EXPECT_EQ(signing_key_id(recording_->requests()[0]), "AKIDENVSOURCE");
  EXPECT_EQ(caller_arn(c), "arn:aws:sts::123456789012:assumed-role/prevayler-test/from-env");

  // In the default chain the environment's keys come first and win.
  EXPECT_EQ(default_credentials_chain(no_network_, env)->get().access_key_id, "AKIDENVSOURCE");
  EXPECT_EQ(no_network_->calls, 0);

  // Without them the role cannot be assumed, and the error says why.
  env.access_key_id.reset();
  const std::string what =
      error_of<ConfigError>([&] { profile_credentials(no_network_, env)->get(); });
  EXPECT_NE(what.find("profile 'envrole'"), std::string::npos) << what;
  EXPECT_NE(what.find("AWS_ACCESS_KEY_ID"), std::string::npos) << what;
  EXPECT_EQ(what.find(kSecret), std::string::npos) << what;
}

TEST_F(CredentialsProfileTest, CredentialProcessAsSourceProfile) {
  const std::string tool =
      script("source.sh", "echo '" + process_json("AKIDFROMPROCESS", std::nullopt) + "'\n");
  dir_.write("config", std::string("[profile tool]\ncredential_process = ") + tool +
                           "\n[profile role]\nrole_arn = " + kRole + "\nsource_profile = tool\n");
  CredentialsEnvironment env = with_moto();
  env.profile = "role";
  const Credentials c = default_credentials_chain(recording_, env)->get();
  EXPECT_TRUE(c.access_key_id.starts_with("ASIA"));
  ASSERT_EQ(recording_->requests().size(), 1u);
  EXPECT_EQ(signing_key_id(recording_->requests()[0]), "AKIDFROMPROCESS");
  const std::string arn = caller_arn(c);
  EXPECT_TRUE(
      arn.starts_with("arn:aws:sts::123456789012:assumed-role/prevayler-test/prevayler-cpp-"))
      << "default session name: " << arn;
}

// ---------------------------------------------------------------------------
// Roles: expiry and errors, on a fake STS

struct FakeSts {
  std::atomic<int> calls{0};
  std::atomic<int> status{200};
  std::chrono::seconds lifetime{3600};

  TestResponse handle(const TestRequest& r) {
    TestResponse response;
    const int n = ++calls;
    response.status = status;
    if (status != 200) {
      response.body = std::string(
                          "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                          "<Message>not authorized, secret ") +
                      kSecret + "</Message></Error></ErrorResponse>";
      return response;
    }
    EXPECT_TRUE(has_form_field(r.body, "Action=AssumeRole")) << r.body;
    response.body = std::string(
                        "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
                        "<AccessKeyId>ASIAFAKE") +
                    std::to_string(n) + "</AccessKeyId><SecretAccessKey>" + kSecret +
                    "</SecretAccessKey><SessionToken>" + kSessionToken +
                    "</SessionToken><Expiration>" + iso8601(Clock::now() + lifetime) +
                    "</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
    return response;
  }
};

class CredentialsRoleFakeStsTest : public CredentialsProfileTest {
 protected:
  CredentialsRoleFakeStsTest() {
    dir_.write("credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = " +
                                  std::string(kSecret) + "\n");
    dir_.write("config",
               std::string("[profile role]\nrole_arn = ") + kRole + "\nsource_profile = base\n");
    env_with_fake_ = base_;
    env_with_fake_.profile = "role";
    env_with_fake_.sts_endpoint = server_.url();
  }
  FakeSts sts_;
  TestHttpServer server_{[this](const TestRequest& r) { return sts_.handle(r); }};
  CredentialsEnvironment env_with_fake_;
};

TEST_F(CredentialsRoleFakeStsTest, RefreshedBeforeExpiry) {
  sts_.lifetime = std::chrono::hours(1);
  auto cached = default_credentials_chain(testing::test_transport(), env_with_fake_);
  EXPECT_EQ(cached->get().access_key_id, "ASIAFAKE1");
  EXPECT_EQ(cached->get().access_key_id, "ASIAFAKE1");
  EXPECT_EQ(sts_.calls, 1);

  sts_.lifetime = std::chrono::seconds(60);  // inside the refresh margin
  auto refreshing = default_credentials_chain(testing::test_transport(), env_with_fake_);
  EXPECT_EQ(refreshing->get().access_key_id, "ASIAFAKE2");
  EXPECT_EQ(refreshing->get().access_key_id, "ASIAFAKE3");
  EXPECT_EQ(sts_.calls, 3);
}

TEST_F(CredentialsRoleFakeStsTest, StsRefusalIsAStorageErrorNamingTheRole) {
  sts_.status = 403;
  const std::string what = error_of<StorageError>(
      [&] { default_credentials_chain(testing::test_transport(), env_with_fake_)->get(); });
  EXPECT_NE(what.find("AssumeRole"), std::string::npos) << what;
  EXPECT_NE(what.find(kRole), std::string::npos) << what;
  EXPECT_NE(what.find("403"), std::string::npos) << what;
  EXPECT_NE(what.find("AccessDenied"), std::string::npos) << what;
  EXPECT_EQ(what.find(kSecret), std::string::npos) << what;
}

TEST_F(CredentialsRoleFakeStsTest, RegionalEndpointWhenNoOverride) {
  CredentialsEnvironment env = env_with_fake_;
  env.sts_endpoint.clear();
  env.region = "eu-west-3";
  auto recording = std::make_shared<RecordingTransport>(no_network_);
  EXPECT_THROW(default_credentials_chain(recording, env)->get(), TransportError);
  ASSERT_EQ(recording->requests().size(), 1u);
  EXPECT_EQ(recording->requests()[0].url, "https://sts.eu-west-3.amazonaws.com/");
  EXPECT_NE(find_header(recording->requests()[0], "Authorization")->find("/eu-west-3/sts/"),
            std::string::npos);
}

// ---------------------------------------------------------------------------
// Roles: configurations refused before any request

TEST_F(CredentialsProfileTest, SourceProfileCycleIsRefused) {
  dir_.write("config",
             "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
             "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = c\n"
             "[profile c]\nrole_arn = arn:aws:iam::1:role/c\nsource_profile = a\n");
  CredentialsEnvironment env = base_;
  env.profile = "a";
  const std::string what =
      error_of<ConfigError>([&] { default_credentials_chain(no_network_, env)->get(); });
  EXPECT_NE(what.find("'a' -> 'b' -> 'c' -> 'a'"), std::string::npos) << what;
  EXPECT_NE(what.find("cycle"), std::string::npos) << what;
  EXPECT_EQ(no_network_->calls, 0);
}

TEST_F(CredentialsProfileTest, SourceProfileChainLengthIsBounded) {
  std::string config;
  for (int i = 0; i < 12; ++i) {
    config += "[profile p" + std::to_string(i) + "]\nrole_arn = arn:aws:iam::1:role/p" +
              std::to_string(i) + "\nsource_profile = p" + std::to_string(i + 1) + "\n";
  }
  config += "[profile p12]\naws_access_key_id = A\naws_secret_access_key = s\n";
  dir_.write("config", config);
  CredentialsEnvironment env = base_;
  env.profile = "p0";
  const std::string what =
      error_of<ConfigError>([&] { default_credentials_chain(no_network_, env)->get(); });
  EXPECT_NE(what.find("longer than"), std::string::npos) << what;
  EXPECT_EQ(no_network_->calls, 0);
}

TEST_F(CredentialsProfileTest, SelfReferencingSourceProfileUsesItsOwnKeys) {
  dir_.write("credentials", "[me]\naws_access_key_id = AKIDME\naws_secret_access_key = s\n");
  dir_.write("config",
             std::string("[profile me]\nrole_arn = ") + kRole + "\nsource_profile = me\n");
  CredentialsEnvironment env = with_moto();
  env.profile = "me";
  const Credentials c = default_credentials_chain(recording_, env)->get();
  EXPECT_TRUE(c.access_key_id.starts_with("ASIA")) << "the role wins over the profile's keys";
  ASSERT_EQ(recording_->requests().size(), 1u);
  EXPECT_EQ(signing_key_id(recording_->requests()[0]), "AKIDME");
}

TEST_F(CredentialsProfileTest, MfaSerialIsRefused) {
  dir_.write("credentials", "[base]\naws_access_key_id = A\naws_secret_access_key = s\n");
  dir_.write("config", std::string("[profile mfa]\nrole_arn = ") + kRole +
                           "\nsource_profile = base\nmfa_serial = arn:aws:iam::1:mfa/helen\n");
  CredentialsEnvironment env = base_;
  env.profile = "mfa";
  const std::string what =
      error_of<ConfigError>([&] { default_credentials_chain(no_network_, env)->get(); });
  EXPECT_NE(what.find("profile 'mfa'"), std::string::npos) << what;
  EXPECT_NE(what.find("mfa_serial"), std::string::npos) << what;
  EXPECT_EQ(no_network_->calls, 0);
}

TEST_F(CredentialsProfileTest, InvalidRoleProfilesAreConfigErrors) {
  CredentialsEnvironment env = base_;
  env.profile = "bad";
  const auto expect_error = [&](const std::string& settings, const std::string& expected) {
    dir_.write("config",
               "[profile other]\naws_access_key_id = A\naws_secret_access_key = s\n"
               "[profile empty]\nregion = us-east-1\n"
               "[profile bad]\nrole_arn = arn:aws:iam::1:role/r\n" +
                   settings);
    const std::string what =
        error_of<ConfigError>([&] { default_credentials_chain(no_network_, env)->get(); });
    EXPECT_NE(what.find("profile 'bad'"), std::string::npos) << what;
    EXPECT_NE(what.find(expected), std::string::npos) << what;
  };
  expect_error("", "without source_profile or credential_source");
  expect_error("source_profile = other\ncredential_source = Environment\n", "both");
  expect_error("credential_source = Laptop\n", "Ec2InstanceMetadata");
  expect_error("source_profile = missing\n", "'missing'");
  expect_error("source_profile = empty\n", "has no credentials");
  expect_error("source_profile = other\nduration_seconds = 60\n", "duration_seconds");
  expect_error("source_profile = other\nduration_seconds = 1h\n", "duration_seconds");
  EXPECT_EQ(no_network_->calls, 0);
}

// ---------------------------------------------------------------------------
// Precedence, as in the AWS CLI

TEST_F(CredentialsProfileTest, PrecedenceOfTheProfileSources) {
  const std::string tool =
      script("p.sh", "echo '" + process_json("AKIDPROCESS", std::nullopt) + "'\n");
  dir_.write("credentials", "[p]\naws_access_key_id = AKIDCREDFILE\naws_secret_access_key = s\n");
  dir_.write("config", std::string("[profile p]\nrole_arn = ") + kRole +
                           "\nsource_profile = p\ncredential_process = " + tool +
                           "\naws_access_key_id = AKIDCONFIGFILE\naws_secret_access_key = s\n");
  CredentialsEnvironment env = with_moto();
  env.profile = "p";
  env.access_key_id = "AKIDENV";
  env.secret_access_key = "s";
  // 1. The environment beats every profile source.
  EXPECT_EQ(default_credentials_chain(recording_, env)->get().access_key_id, "AKIDENV");
  EXPECT_TRUE(recording_->requests().empty());
  env.access_key_id.reset();
  env.secret_access_key.reset();
  // 2. The profile's role beats its keys.
  EXPECT_TRUE(default_credentials_chain(recording_, env)->get().access_key_id.starts_with("ASIA"));
  EXPECT_EQ(recording_->requests().size(), 1u);
  // 3. Keys in the credentials file beat credential_process.
  dir_.write("config", "[profile p]\ncredential_process = " + tool +
                           "\naws_access_key_id = AKIDCONFIGFILE\naws_secret_access_key = s\n");
  EXPECT_EQ(default_credentials_chain(recording_, env)->get().access_key_id, "AKIDCREDFILE");
  // 4. credential_process beats keys in the config file.
  std::filesystem::remove(env.shared_credentials_file);
  EXPECT_EQ(default_credentials_chain(recording_, env)->get().access_key_id, "AKIDPROCESS");
  // 5. Then the config file's keys.
  dir_.write("config",
             "[profile p]\naws_access_key_id = AKIDCONFIGFILE\naws_secret_access_key = s\n");
  EXPECT_EQ(default_credentials_chain(recording_, env)->get().access_key_id, "AKIDCONFIGFILE");
  EXPECT_EQ(recording_->requests().size(), 1u);
}

TEST_F(CredentialsProfileTest, RoleProfileBeatsWebIdentityFromTheEnvironment) {
  dir_.write("credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s\n");
  dir_.write("config", std::string("[default]\nrole_arn = ") + kRole + "\nsource_profile = base\n");
  CredentialsEnvironment env = with_moto();
  env.web_identity_token_file = dir_.write("token", "TOKEN");
  env.role_arn = "arn:aws:iam::123456789012:role/web";
  const Credentials c = default_credentials_chain(recording_, env)->get();
  ASSERT_EQ(recording_->requests().size(), 1u);
  EXPECT_TRUE(has_form_field(recording_->requests()[0].body, "Action=AssumeRole"));
  EXPECT_EQ(signing_key_id(recording_->requests()[0]), "AKIDBASE");
  EXPECT_TRUE(c.access_key_id.starts_with("ASIA"));
}

}  // namespace
}  // namespace prevayler::aws
