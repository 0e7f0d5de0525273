// The two STS calls the credentials providers make, over the Query API
// (POST, form-encoded body, XML response):
// - AssumeRole, SigV4-signed (service "sts") with the source credentials,
//   for profiles with role_arn;
// - AssumeRoleWithWebIdentity, unsigned (the token is the proof).
// Errors are StorageError naming the call, the endpoint and the role, with
// STS's error code and message; never a credential or a token.
#pragma once

#include <optional>
#include <string>

#include "aws/credentials.hpp"
#include "aws/http.hpp"

namespace prevayler::aws {

struct StsEndpoint {
  std::string url;     // scheme://host[:port], no trailing slash
  std::string region;  // signing region; "us-east-1" for the global endpoint
};

struct AssumeRoleParameters {
  std::string role_arn;
  std::string role_session_name;
  std::optional<std::string> external_id;
  std::optional<int> duration_seconds;  // STS's default (one hour) when unset
};

// REQUIRES: source holds an access key id and a secret.
Credentials sts_assume_role(HttpTransport& transport, const StsEndpoint& endpoint,
                            const Credentials& source, const AssumeRoleParameters& parameters);

// `token_file` is only named in error messages (as the place to check).
Credentials sts_assume_role_with_web_identity(HttpTransport& transport, const StsEndpoint& endpoint,
                                              const std::string& role_arn,
                                              const std::string& role_session_name,
                                              const std::string& token,
                                              const std::string& token_file);

}  // namespace prevayler::aws
