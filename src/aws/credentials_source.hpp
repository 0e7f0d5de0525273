// What the credential sources of the chain share (internal to src/aws): the
// `looked` convention and the small helpers the sources use. The sources are
// from_environment (here), from_profile and from_web_identity
// (credentials_profile.hpp), from_container and from_imds
// (credentials_metadata.hpp); the chain that tries them in order is in
// credentials.cpp, which also defines what this header declares.
//
// Contract of a source: it returns credentials, or nullopt after noting in
// `looked` (with note()) why it has none here; a source that is configured
// but fails throws ConfigError or StorageError. Neither `looked` nor an
// exception ever holds a credential or a token.
#pragma once

#include <optional>
#include <string>

#include "aws/credentials.hpp"

namespace prevayler::aws {

// Appends `text` to `looked`, separated by "; ".
void note(std::string& looked, const std::string& text);

// `s` without leading and trailing spaces, tabs and line breaks.
std::string trim(std::string s);

// The trimmed content of a small secret-bearing file (a token), named `what`
// in errors. Throws ConfigError naming `path` when it cannot be read or is
// empty; its content never goes into a message.
std::string read_token_file(const std::string& path, const std::string& what);

// Step 1 of the chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (with
// AWS_SESSION_TOKEN) of `env`; also a role's credential_source = Environment.
std::optional<Credentials> from_environment(const CredentialsEnvironment& env, std::string& looked);

}  // namespace prevayler::aws
