// AWS credentials and the standard provider chain (environment, the profile
// of the shared credentials/config files with AWS_PROFILE: a role to assume
// through STS AssumeRole, static keys, credential_process; web identity
// token via STS AssumeRoleWithWebIdentity, ECS container credentials, EC2
// IMDSv2). Credentials never appear in logs, errors or exceptions.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "aws/http.hpp"

namespace prevayler::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty when not temporary credentials
  // Set for temporary credentials; providers refresh before this instant.
  std::optional<std::chrono::system_clock::time_point> expiration;
};

// Thread-safe source of credentials. get() returns cached credentials and
// refreshes them shortly before they expire. Throws ConfigError (no
// credentials anywhere; the message lists where it looked) or StorageError
// (a credential endpoint failed), never with secrets in the message.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual Credentials get() = 0;
};

// Fixed credentials given by the user.
std::shared_ptr<CredentialsProvider> static_credentials(Credentials credentials);

// Where the chain looks; every field defaults to the process environment
// (see environment_from_process()). Tests fill it explicitly.
struct CredentialsEnvironment {
  std::optional<std::string> access_key_id;      // AWS_ACCESS_KEY_ID
  std::optional<std::string> secret_access_key;  // AWS_SECRET_ACCESS_KEY
  std::optional<std::string> session_token;      // AWS_SESSION_TOKEN
  std::string profile = "default";               // AWS_PROFILE
  std::string shared_credentials_file;  // AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials
  std::string config_file;              // AWS_CONFIG_FILE or ~/.aws/config
  std::optional<std::string> web_identity_token_file;  // AWS_WEB_IDENTITY_TOKEN_FILE
  std::optional<std::string> role_arn;                 // AWS_ROLE_ARN
  std::optional<std::string> role_session_name;        // AWS_ROLE_SESSION_NAME
  std::string sts_endpoint;  // AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL, else
                             // https://sts.{region}.amazonaws.com
  std::string region;        // for STS
  std::optional<std::string> container_credentials_full_uri;  // AWS_CONTAINER_CREDENTIALS_FULL_URI
  std::optional<std::string>
      container_credentials_relative_uri;  // AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
  std::optional<std::string> container_authorization_token;  // AWS_CONTAINER_AUTHORIZATION_TOKEN
  std::optional<std::string>
      container_authorization_token_file;                // AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
  std::string imds_endpoint = "http://169.254.169.254";  // AWS_EC2_METADATA_SERVICE_ENDPOINT
  bool imds_disabled = false;                            // AWS_EC2_METADATA_DISABLED=true
};

CredentialsEnvironment credentials_environment_from_process();

// The standard chain, tried in the AWS CLI's order; the first source that
// has credentials wins and is cached (and refreshed before expiry):
//  1. environment keys;
//  2. the profile's role (role_arn with source_profile or credential_source,
//     optional role_session_name, external_id, duration_seconds) through STS
//     AssumeRole signed with the source credentials; mfa_serial is refused
//     (a library cannot prompt for a code);
//  3. the profile's static keys in the credentials file;
//  4. the profile's credential_process;
//  5. the profile's static keys in the config file;
//  6. web identity (environment, else the profile's web_identity_token_file);
//  7. ECS container credentials; 8. EC2 instance metadata.
// A profile's settings are those of its config-file section overlaid with
// its credentials-file section.
std::shared_ptr<CredentialsProvider> default_credentials_chain(
    std::shared_ptr<HttpTransport> transport,
    CredentialsEnvironment environment = credentials_environment_from_process());

// Only the profile `environment.profile` (steps 2 to 5 and its web identity),
// as `aws --profile NAME` resolves it: the environment keys do not take
// precedence, so a role with credential_source = Environment is assumed with
// them. Cached and refreshed like the chain.
std::shared_ptr<CredentialsProvider> profile_credentials(
    std::shared_ptr<HttpTransport> transport,
    CredentialsEnvironment environment = credentials_environment_from_process());

// An ISO 8601 UTC instant as AWS credential sources print it
// (2026-01-02T03:04:05Z, optionally with fractional seconds or a numeric
// offset); nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(const std::string& text);

}  // namespace prevayler::aws
