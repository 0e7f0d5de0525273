// The sources of the chain that read the profile (internal to src/aws):
// the profile's role, assumed through STS AssumeRole with the credentials of
// its source_profile (followed from profile to profile, bounded) or its
// credential_source; its static keys; its credential_process; and web
// identity through STS AssumeRoleWithWebIdentity, from the environment or
// the profile. Steps 2 to 6 of default_credentials_chain (credentials.hpp),
// which documents the order.
//
// Both functions follow the source contract of credentials_source.hpp: they
// read the shared files on every call (so a rotated file is seen), return
// nullopt after noting in `looked` when nothing is configured, and throw
// ConfigError for a configuration they cannot use (a source_profile cycle or
// too long a chain, mfa_serial, an incomplete web identity, an unreadable
// token file) or StorageError (STS or a credential_process failed). They
// keep no state between calls; the caching provider of credentials.cpp
// decides when they run.
#pragma once

#include <optional>
#include <string>

#include "aws/credentials.hpp"
#include "aws/http.hpp"

namespace prevayler::aws {

// Steps 2 to 5: the role, the static keys and the credential_process of the
// profile `env.profile`, as the AWS CLI resolves it.
std::optional<Credentials> from_profile(const CredentialsEnvironment& env, HttpTransport& transport,
                                        std::string& looked);

// Step 6: AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN of `env`, else the
// profile's web_identity_token_file/role_arn in the config file.
std::optional<Credentials> from_web_identity(const CredentialsEnvironment& env,
                                             HttpTransport& transport, std::string& looked);

}  // namespace prevayler::aws
