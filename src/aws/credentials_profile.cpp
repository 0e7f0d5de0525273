#include "aws/credentials_profile.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <chrono>
#include <map>
#include <vector>

#include "aws/aws_config.hpp"
#include "aws/credentials_metadata.hpp"
#include "aws/credentials_process.hpp"
#include "aws/credentials_source.hpp"
#include "aws/sts.hpp"
#include "prevayler/error.hpp"

namespace prevayler::aws {

namespace {

using Clock = std::chrono::system_clock;

// ---------------------------------------------------------------------------
// What a profile and web identity share: static keys, STS, session names.

std::optional<Credentials> keys_of(const std::map<std::string, std::string>* section) {
  if (section == nullptr) return std::nullopt;
  const auto id = section->find("aws_access_key_id");
  const auto secret = section->find("aws_secret_access_key");
  if (id == section->end() || secret == section->end()) return std::nullopt;
  Credentials credentials{id->second, secret->second, "", std::nullopt};
  if (const auto token = section->find("aws_session_token"); token != section->end()) {
    credentials.session_token = token->second;
  }
  return credentials;
}

StsEndpoint sts_endpoint_of(const CredentialsEnvironment& env) {
  StsEndpoint endpoint;
  // Without a region STS is reached at its global endpoint, which signs as
  // us-east-1.
  endpoint.region = env.region.empty() ? "us-east-1" : env.region;
  if (!env.sts_endpoint.empty()) {
    endpoint.url = env.sts_endpoint;
    while (!endpoint.url.empty() && endpoint.url.back() == '/') endpoint.url.pop_back();
  } else if (env.region.empty()) {
    endpoint.url = "https://sts.amazonaws.com";
  } else {
    endpoint.url = "https://sts." + env.region + ".amazonaws.com";
  }
  return endpoint;
}

std::string default_session_name() {
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count();
  return "prevayler-cpp-" + std::to_string(now_ms);
}

Credentials web_identity(const CredentialsEnvironment& env, HttpTransport& transport,
                         const std::string& token_file, const std::string& role_arn,
                         std::optional<std::string> session_name) {
  const std::string token = read_token_file(token_file, "web identity token");
  return sts_assume_role_with_web_identity(transport, sts_endpoint_of(env), role_arn,
                                           session_name.value_or(default_session_name()), token,
                                           token_file);
}

// ---------------------------------------------------------------------------
// The profile: a role to assume, static keys, credential_process.

// Source profiles may name further source profiles (role chaining); a longer
// chain than this is a configuration mistake, not a design.
constexpr std::size_t role_chain_profiles_max = 8;
// STS's bounds for DurationSeconds (the role's maximum session may be lower).
constexpr int role_duration_s_min = 900;
constexpr int role_duration_s_max = 43200;

using ProfileSettings = std::map<std::string, std::string>;

std::optional<std::string> setting(const ProfileSettings& settings, const char* key) {
  const auto it = settings.find(key);
  if (it == settings.end()) return std::nullopt;
  return it->second;
}

std::string joined(const std::vector<std::string>& names, const char* separator) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : separator) + ("'" + name + "'");
  return out;
}

// Resolves the credentials of a profile as the AWS CLI does, following
// source_profile from profile to profile. Reads both files once.
class ProfileResolver {
 public:
  ProfileResolver(const CredentialsEnvironment& env, HttpTransport& transport)
      : env_(env),
        transport_(transport),
        credentials_file_(read_aws_ini_file(env.shared_credentials_file)),
        config_file_(read_aws_ini_file(env.config_file)) {}

  // Credentials of `name`, or nullopt when it has no source. `chain` holds
  // the profiles visited so far, `name` last. A source profile may also be a
  // web identity profile; for the active profile the chain tries web
  // identity later, after the environment's AWS_WEB_IDENTITY_TOKEN_FILE.
  std::optional<Credentials> resolve(const std::string& name, std::vector<std::string>& chain,
                                     bool as_source) {
    assert(!chain.empty() && chain.back() == name);
    const ProfileSettings settings = settings_of(name);
    const auto role_arn = setting(settings, "role_arn");
    const auto token_file = setting(settings, "web_identity_token_file");
    if (role_arn && !token_file) return assume_role(name, settings, *role_arn, chain);
    if (auto c = keys_of(find_profile(credentials_file_, name, /*config_file=*/false))) return c;
    if (const auto command = setting(settings, "credential_process")) {
      return run_credential_process(*command, name, env_.config_file);
    }
    if (auto c = keys_of(find_profile(config_file_, name, /*config_file=*/true))) return c;
    if (as_source && token_file && role_arn) {
      return web_identity(env_, transport_, *token_file, *role_arn,
                          setting(settings, "role_session_name"));
    }
    return std::nullopt;
  }

 private:
  // The config file's section overlaid with the credentials file's.
  ProfileSettings settings_of(const std::string& name) const {
    ProfileSettings merged;
    if (const auto* section = find_profile(config_file_, name, /*config_file=*/true)) {
      merged = *section;
    }
    if (const auto* section = find_profile(credentials_file_, name, /*config_file=*/false)) {
      for (const auto& [key, value] : *section) merged[key] = value;
    }
    return merged;
  }

  bool exists(const std::string& name) const {
    return find_profile(config_file_, name, /*config_file=*/true) != nullptr ||
           find_profile(credentials_file_, name, /*config_file=*/false) != nullptr;
  }

  std::string where(const std::string& name) const {
    return "profile '" + name + "' in " + env_.config_file;
  }

  Credentials assume_role(const std::string& name, const ProfileSettings& settings,
                          const std::string& role_arn, std::vector<std::string>& chain) {
    if (setting(settings, "mfa_serial")) {
      throw ConfigError(where(name) +
                        " sets mfa_serial: assuming that role needs an MFA code typed at a "
                        "terminal, which a library cannot prompt for; use a credential_process "
                        "that obtains the session, or a role whose trust policy does not "
                        "require MFA");
    }
    const Credentials source = source_credentials(name, settings, chain);
    AssumeRoleParameters parameters;
    parameters.role_arn = role_arn;
    parameters.role_session_name =
        setting(settings, "role_session_name").value_or(default_session_name());
    parameters.external_id = setting(settings, "external_id");
    if (const auto duration = setting(settings, "duration_seconds")) {
      int seconds = 0;
      const auto [end, ec] =
          std::from_chars(duration->data(), duration->data() + duration->size(), seconds);
      if (ec != std::errc() || end != duration->data() + duration->size() ||
          seconds < role_duration_s_min || seconds > role_duration_s_max) {
        throw ConfigError(where(name) + " sets duration_seconds = " + *duration +
                          "; it must be a whole number of seconds from " +
                          std::to_string(role_duration_s_min) + " to " +
                          std::to_string(role_duration_s_max));
      }
      parameters.duration_seconds = seconds;
    }
    return sts_assume_role(transport_, sts_endpoint_of(env_), source, parameters);
  }

  Credentials source_credentials(const std::string& name, const ProfileSettings& settings,
                                 std::vector<std::string>& chain) {
    const auto source_profile = setting(settings, "source_profile");
    const auto credential_source = setting(settings, "credential_source");
    if (source_profile && credential_source) {
      throw ConfigError(where(name) +
                        " sets both source_profile and credential_source; keep one of them");
    }
    if (source_profile) return from_source_profile(name, *source_profile, chain);
    if (credential_source) return from_credential_source(name, *credential_source);
    throw ConfigError(where(name) +
                      " sets role_arn without source_profile or credential_source; add one to "
                      "say which credentials assume the role");
  }

  Credentials from_source_profile(const std::string& name, const std::string& source,
                                  std::vector<std::string>& chain) {
    if (source == name) {
      // A profile that is its own source assumes the role with its own
      // static keys (the AWS CLI allows exactly this self-reference).
      auto keys = keys_of(find_profile(credentials_file_, name, /*config_file=*/false));
      if (!keys) keys = keys_of(find_profile(config_file_, name, /*config_file=*/true));
      if (!keys) {
        throw ConfigError(where(name) +
                          " is its own source_profile but has no aws_access_key_id and "
                          "aws_secret_access_key");
      }
      return *keys;
    }
    if (std::find(chain.begin(), chain.end(), source) != chain.end()) {
      chain.push_back(source);
      throw ConfigError("the source_profile settings of profiles " + joined(chain, " -> ") +
                        " in " + env_.config_file +
                        " form a cycle; end the chain with a "
                        "profile that has keys, a credential_process or a credential_source");
    }
    if (chain.size() >= role_chain_profiles_max) {
      throw ConfigError("the source_profile chain " + joined(chain, " -> ") + " in " +
                        env_.config_file + " is longer than " +
                        std::to_string(role_chain_profiles_max) + " profiles; shorten it");
    }
    if (!exists(source)) {
      throw ConfigError(where(name) + " names source_profile '" + source +
                        "', which is neither in " + env_.config_file + " nor in " +
                        env_.shared_credentials_file);
    }
    chain.push_back(source);
    auto credentials = resolve(source, chain, /*as_source=*/true);
    if (!credentials) {
      throw ConfigError("source_profile '" + source + "' of " + where(name) +
                        " has no credentials (no role_arn, aws_access_key_id/"
                        "aws_secret_access_key, credential_process or web_identity_token_file)");
    }
    return *credentials;
  }

  Credentials from_credential_source(const std::string& name, const std::string& source) {
    std::string looked;
    std::optional<Credentials> credentials;
    if (source == "Environment") {
      credentials = from_environment(env_, looked);
    } else if (source == "Ec2InstanceMetadata") {
      credentials = from_imds(env_, transport_, looked);
    } else if (source == "EcsContainer") {
      credentials = from_container(env_, transport_, looked);
    } else {
      throw ConfigError(where(name) + " sets credential_source = " + source +
                        "; use Environment, Ec2InstanceMetadata or EcsContainer");
    }
    if (!credentials) {
      throw ConfigError(where(name) + " takes its source credentials from " + source +
                        ", which has none (" + looked + ")");
    }
    return *credentials;
  }

  const CredentialsEnvironment& env_;
  HttpTransport& transport_;
  const AwsIniSections credentials_file_;
  const AwsIniSections config_file_;
};

}  // namespace

std::optional<Credentials> from_web_identity(const CredentialsEnvironment& env,
                                             HttpTransport& transport, std::string& looked) {
  std::optional<std::string> token_file = env.web_identity_token_file;
  std::optional<std::string> role_arn = env.role_arn;
  std::optional<std::string> session_name = env.role_session_name;
  std::string origin = "AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN";
  if (!token_file && !role_arn) {
    const auto config = read_aws_ini_file(env.config_file);
    if (const auto* profile = find_profile(config, env.profile, /*config_file=*/true)) {
      const auto get = [&](const char* key) -> std::optional<std::string> {
        const auto it = profile->find(key);
        return it == profile->end() ? std::nullopt : std::optional(it->second);
      };
      token_file = get("web_identity_token_file");
      if (token_file) {
        role_arn = get("role_arn");
        if (!session_name) session_name = get("role_session_name");
        origin = "web_identity_token_file/role_arn of profile '" + env.profile + "' in " +
                 env.config_file;
      }
    }
  }
  if (!token_file && !role_arn) {
    note(looked, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN not set");
    return std::nullopt;
  }
  if (!token_file || !role_arn) {
    throw ConfigError("incomplete web identity configuration (" + origin +
                      "): both the token file and the role ARN must be set");
  }
  return web_identity(env, transport, *token_file, *role_arn, session_name);
}

std::optional<Credentials> from_profile(const CredentialsEnvironment& env, HttpTransport& transport,
                                        std::string& looked) {
  ProfileResolver resolver(env, transport);
  std::vector<std::string> chain{env.profile};
  if (auto c = resolver.resolve(env.profile, chain, /*as_source=*/false)) return c;
  note(looked, "profile '" + env.profile +
                   "' (role_arn, aws_access_key_id/aws_secret_access_key, credential_process) in " +
                   (env.shared_credentials_file.empty() ? "(no credentials file)"
                                                        : env.shared_credentials_file) +
                   " and " + (env.config_file.empty() ? "(no config file)" : env.config_file) +
                   ": not found");
  return std::nullopt;
}

}  // namespace prevayler::aws
