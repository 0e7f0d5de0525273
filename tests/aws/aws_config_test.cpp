#include "aws/aws_config.hpp"

#include <gtest/gtest.h>

#include "auth_test_env.hpp"
#include "prevayler/error.hpp"

namespace prevayler::aws {
namespace {

using auth_test::ScopedAwsEnvironment;
using auth_test::TempDir;

constexpr const char* kConfigFile = R"(# A config file as the AWS CLI writes it, plus oddities.
[default]
region = eu-west-1
output = json

; comment line
[profile dev]
region=us-west-2   # inline comment
endpoint_url = http://localhost:4566/
s3 =
  addressing_style = path
  region = must-not-leak
cli_pager =

[profile   spaced   name]
region = ap-south-1

[sso-session my-sso]
sso_region = us-east-1

[profile broken
region = never

[profile after-broken]
region = ca-central-1
)";

class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.set("HOME", home_.path().string());  // no real ~/.aws
    config_path_ = dir_.write("config", kConfigFile);
    env_.set("AWS_CONFIG_FILE", config_path_);
  }

  ScopedAwsEnvironment env_;
  TempDir home_;
  TempDir dir_;
  std::string config_path_;
};

TEST_F(AwsConfigTest, ParsesSectionsCommentsAndNestedBlocks) {
  const AwsIniSections sections = parse_aws_ini(kConfigFile);
  ASSERT_TRUE(sections.count("default"));
  EXPECT_EQ(sections.at("default").at("region"), "eu-west-1");
  EXPECT_EQ(sections.at("default").at("output"), "json");
  const auto& dev = sections.at("profile dev");
  EXPECT_EQ(dev.at("region"), "us-west-2");
  EXPECT_EQ(dev.at("endpoint_url"), "http://localhost:4566/");
  EXPECT_EQ(dev.count("s3"), 0u);
  EXPECT_EQ(dev.count("addressing_style"), 0u);
  EXPECT_EQ(sections.at("profile spaced name").at("region"), "ap-south-1");
  EXPECT_EQ(sections.at("sso-session my-sso").at("sso_region"), "us-east-1");
  EXPECT_EQ(sections.at("profile after-broken").at("region"), "ca-central-1");
  for (const auto& [name, keys] : sections) {
    for (const auto& [key, value] : keys) EXPECT_NE(value, "never") << name;
  }
}

TEST_F(AwsConfigTest, ParsesWindowsLineEndingsAndNoTrailingNewline) {
  const auto sections = parse_aws_ini("[default]\r\nregion = us-east-2\r\n[profile x]\r\nregion=y");
  EXPECT_EQ(sections.at("default").at("region"), "us-east-2");
  EXPECT_EQ(sections.at("profile x").at("region"), "y");
}

TEST_F(AwsConfigTest, FindProfileUsesConfigOrCredentialsNaming) {
  const auto sections = parse_aws_ini("[default]\na=1\n[profile dev]\na=2\n[dev]\na=3\n");
  EXPECT_EQ(find_profile(sections, "default", true)->at("a"), "1");
  EXPECT_EQ(find_profile(sections, "dev", true)->at("a"), "2");
  EXPECT_EQ(find_profile(sections, "dev", false)->at("a"), "3");
  EXPECT_EQ(find_profile(sections, "missing", true), nullptr);
  const auto profile_default = parse_aws_ini("[profile default]\na=4\n");
  EXPECT_EQ(find_profile(profile_default, "default", true)->at("a"), "4");
}

TEST_F(AwsConfigTest, MissingFileIsEmpty) {
  EXPECT_TRUE(read_aws_ini_file((dir_.path() / "nope").string()).empty());
  EXPECT_TRUE(read_aws_ini_file("").empty());
}

TEST_F(AwsConfigTest, RegionPrecedence) {
  EXPECT_EQ(resolve_region(std::nullopt), "eu-west-1");  // [default] of the config file
  env_.set("AWS_PROFILE", "dev");
  EXPECT_EQ(resolve_region(std::nullopt), "us-west-2");
  env_.set("AWS_DEFAULT_REGION", "us-east-2");
  EXPECT_EQ(resolve_region(std::nullopt), "us-east-2");
  env_.set("AWS_REGION", "sa-east-1");
  EXPECT_EQ(resolve_region(std::nullopt), "sa-east-1");
  EXPECT_EQ(resolve_region("me-south-1"), "me-south-1");
  EXPECT_EQ(resolve_region(std::string()), "sa-east-1") << "an empty explicit value is unset";
}

TEST_F(AwsConfigTest, ProfileWithSpacesInHeader) {
  env_.set("AWS_PROFILE", "spaced name");
  EXPECT_EQ(resolve_region(std::nullopt), "ap-south-1");
}

TEST_F(AwsConfigTest, NoRegionIsAConfigErrorNamingWhereItLooked) {
  env_.set("AWS_PROFILE", "nobody");
  try {
    resolve_region(std::nullopt);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("AWS_REGION"), std::string::npos) << what;
    EXPECT_NE(what.find("AWS_DEFAULT_REGION"), std::string::npos) << what;
    EXPECT_NE(what.find("nobody"), std::string::npos) << what;
    EXPECT_NE(what.find(config_path_), std::string::npos) << what;
  }
}

TEST_F(AwsConfigTest, ConfigFileDefaultsToHome) {
  env_.unset("AWS_CONFIG_FILE");
  EXPECT_EQ(default_config_file_path(), (home_.path() / ".aws/config").string());
  EXPECT_EQ(default_credentials_file_path(), (home_.path() / ".aws/credentials").string());
  home_.write(".aws/config", "[default]\nregion = from-home\n");
  EXPECT_EQ(resolve_region(std::nullopt), "from-home");
  env_.set("AWS_CONFIG_FILE", "~/other");
  EXPECT_EQ(default_config_file_path(), (home_.path() / "other").string());
  env_.set("AWS_SHARED_CREDENTIALS_FILE", "/x/creds");
  EXPECT_EQ(default_credentials_file_path(), "/x/creds");
}

TEST_F(AwsConfigTest, ProfileConfigValue) {
  EXPECT_EQ(profile_config_value("output"), "json");
  EXPECT_EQ(profile_config_value("nothing"), std::nullopt);
  env_.set("AWS_PROFILE", "dev");
  EXPECT_EQ(profile_config_value("output"), std::nullopt);
  EXPECT_EQ(profile_config_value("cli_pager"), std::nullopt) << "empty values are not values";
}

TEST_F(AwsConfigTest, DefaultEndpoints) {
  const auto dynamodb = resolve_endpoint("dynamodb", std::nullopt, "eu-west-1");
  EXPECT_EQ(dynamodb.url, "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_FALSE(dynamodb.custom);
  EXPECT_EQ(resolve_endpoint("s3", std::nullopt, "us-east-1").url,
            "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("sts", std::nullopt, "ap-south-1").url,
            "https://sts.ap-south-1.amazonaws.com");
  EXPECT_THROW(resolve_endpoint("s3", std::nullopt, ""), ConfigError);
}

TEST_F(AwsConfigTest, EndpointPrecedence) {
  env_.set("AWS_PROFILE", "dev");
  auto e = resolve_endpoint("dynamodb", std::nullopt, "eu-west-1");
  EXPECT_EQ(e.url, "http://localhost:4566");  // profile endpoint_url, trailing slash removed
  EXPECT_TRUE(e.custom);
  env_.set("AWS_ENDPOINT_URL", "http://global:1");
  EXPECT_EQ(resolve_endpoint("dynamodb", std::nullopt, "eu-west-1").url, "http://global:1");
  env_.set("AWS_ENDPOINT_URL_DYNAMODB", "http://ddb:2");
  EXPECT_EQ(resolve_endpoint("dynamodb", std::nullopt, "eu-west-1").url, "http://ddb:2");
  EXPECT_EQ(resolve_endpoint("s3", std::nullopt, "eu-west-1").url, "http://global:1");
  env_.set("AWS_ENDPOINT_URL_S3", "https://minio:9000/");
  EXPECT_EQ(resolve_endpoint("s3", std::nullopt, "eu-west-1").url, "https://minio:9000");
  const auto explicit_endpoint = resolve_endpoint("s3", "http://explicit:3", "eu-west-1");
  EXPECT_EQ(explicit_endpoint.url, "http://explicit:3");
  EXPECT_TRUE(explicit_endpoint.custom);
}

TEST_F(AwsConfigTest, InvalidEndpointIsAConfigErrorNamingItsSource) {
  env_.set("AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000");
  try {
    resolve_endpoint("dynamodb", std::nullopt, "eu-west-1");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("AWS_ENDPOINT_URL_DYNAMODB"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(resolve_endpoint("s3", "https://host/path", "eu-west-1"), ConfigError);
  EXPECT_THROW(resolve_endpoint("s3", "ftp://host", "eu-west-1"), ConfigError);
}

TEST_F(AwsConfigTest, EnvironmentIsRestoredBetweenTests) {
  // The fixture cleared every AWS_* variable and set only these two.
  EXPECT_EQ(std::getenv("AWS_REGION"), nullptr);
  EXPECT_EQ(std::getenv("AWS_PROFILE"), nullptr);
  EXPECT_STREQ(std::getenv("AWS_CONFIG_FILE"), config_path_.c_str());
}

}  // namespace
}  // namespace prevayler::aws
