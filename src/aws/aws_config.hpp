// The standard AWS configuration: region and endpoints, as every AWS SDK
// resolves them from the environment and the shared config file.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace prevayler::aws {

struct ResolvedEndpoint {
  std::string url;      // scheme://host[:port], no trailing slash
  bool custom = false;  // true when it came from AWS_ENDPOINT_URL* or the user
};

// Region: explicit value, else AWS_REGION, AWS_DEFAULT_REGION, the profile's
// `region` in the config file ([profile NAME] or [default]). Throws
// ConfigError naming where it looked when none is set.
std::string resolve_region(const std::optional<std::string>& explicit_region);

// `url` with any user:password@ of its authority replaced by ***@, for
// messages: a URL never reaches a log with credentials in it.
std::string redact_userinfo(const std::string& url);

// Endpoint for a service ("dynamodb", "s3", "sts"): explicit value, else
// AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's endpoint_url,
// else the AWS default (https://dynamodb.{region}.amazonaws.com,
// https://s3.{region}.amazonaws.com, https://sts.{region}.amazonaws.com).
ResolvedEndpoint resolve_endpoint(std::string_view service,
                                  const std::optional<std::string>& explicit_endpoint,
                                  const std::string& region);

// Value of `key` in the profile section of the shared config file
// (AWS_CONFIG_FILE or ~/.aws/config; section [default] or [profile NAME]).
std::optional<std::string> profile_config_value(const std::string& key);

// ---- Shared-file helpers (also used by the credentials providers). ----

// Sections of an AWS shared config or credentials file: the name between the
// brackets with whitespace runs collapsed ("default", "profile dev"), each a
// map of key to value. Comment lines (# or ;), inline comments preceded by
// whitespace, and nested sub-sections (`s3 =` followed by indented lines) are
// skipped; malformed lines are ignored rather than failing the whole file.
using AwsIniSections = std::map<std::string, std::map<std::string, std::string>>;
AwsIniSections parse_aws_ini(std::string_view text);

// Parses the file at `path`; a missing file yields no sections. Throws
// ConfigError naming the path when it exists but cannot be read.
AwsIniSections read_aws_ini_file(const std::string& path);

// The keys of `profile`: in a config file the section [profile NAME] (or
// [default] for "default"), in a credentials file [NAME]. nullptr if absent.
const std::map<std::string, std::string>* find_profile(const AwsIniSections& sections,
                                                       const std::string& profile,
                                                       bool config_file);

// AWS_PROFILE, else "default".
std::string active_profile_name();
// AWS_CONFIG_FILE, else $HOME/.aws/config (a leading "~/" is expanded).
std::string default_config_file_path();
// AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials.
std::string default_credentials_file_path();

}  // namespace prevayler::aws
