// The sources of the chain served over HTTP by the machine's metadata
// endpoints (internal to src/aws): ECS container credentials and EC2
// instance metadata (IMDSv2). Steps 7 and 8 of default_credentials_chain
// (credentials.hpp); a role's credential_source EcsContainer or
// Ec2InstanceMetadata uses them too.
//
// Both follow the source contract of credentials_source.hpp. The container
// source throws ConfigError for a URI that would send the token or the
// credentials in clear over the network (plain http to a host that is
// neither loopback nor the container agent) or for an unusable authorization
// token, and StorageError when the endpoint fails. IMDS that cannot be
// reached (not on EC2) is noted, not an error, and a short time-out keeps
// that fast. Responses are parsed without ever quoting their body.
#pragma once

#include <optional>
#include <string>

#include "aws/credentials.hpp"
#include "aws/http.hpp"

namespace prevayler::aws {

// Step 7: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (towards the ECS agent) or
// AWS_CONTAINER_CREDENTIALS_FULL_URI, with the authorization token of
// AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) when set.
std::optional<Credentials> from_container(const CredentialsEnvironment& env,
                                          HttpTransport& transport, std::string& looked);

// Step 8: the role attached to this EC2 instance, through a session token
// (IMDSv2) from `env.imds_endpoint`, unless `env.imds_disabled`.
std::optional<Credentials> from_imds(const CredentialsEnvironment& env, HttpTransport& transport,
                                     std::string& looked);

}  // namespace prevayler::aws
