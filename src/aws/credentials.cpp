#include "aws/credentials.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/aws_config.hpp"
#include "aws/credentials_process.hpp"
#include "aws/crypto.hpp"
#include "aws/sts.hpp"
#include "prevayler/error.hpp"

namespace prevayler::aws {

namespace {

using Clock = std::chrono::system_clock;

// Temporary credentials are replaced this long before they expire, so that a
// request signed just before expiry still reaches AWS in time (the SDKs use
// 5 to 15 minutes).
constexpr std::chrono::seconds refresh_margin_s{300};
// IMDS is only reachable on EC2: a short time-out makes the chain fail fast
// everywhere else.
constexpr std::chrono::milliseconds imds_timeout_ms{1000};
constexpr int imds_token_ttl_s = 21600;
constexpr std::chrono::milliseconds container_timeout_ms{2000};
constexpr const char* ecs_host_url = "http://169.254.170.2";

std::optional<std::string> getenv_nonempty(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::string trim(std::string s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.back())) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && is_space(s[start])) ++start;
  return s.substr(start);
}

// Reads a small secret-bearing file (a token); its content never goes into a
// message.
std::string read_token_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read the " + what + " file " + path +
                      "; check that it exists and is readable by this process");
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = trim(text.str());
  if (token.empty()) throw ConfigError("the " + what + " file " + path + " is empty");
  return token;
}

bool has_line_break(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

// ---------------------------------------------------------------------------
// Sources. Each returns credentials, or nullopt after noting in `looked`
// why it has none here; a source that is configured but fails throws.

using Source = std::function<std::optional<Credentials>(std::string& looked)>;

void note(std::string& looked, const std::string& text) {
  if (!looked.empty()) looked += "; ";
  looked += text;
}

std::optional<Credentials> from_environment(const CredentialsEnvironment& env,
                                            std::string& looked) {
  if (env.access_key_id && env.secret_access_key) {
    return Credentials{*env.access_key_id, *env.secret_access_key, env.session_token.value_or(""),
                       std::nullopt};
  }
  if (env.access_key_id || env.secret_access_key) {
    note(looked, "environment: only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set");
  } else {
    note(looked, "environment: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY not set");
  }
  return std::nullopt;
}

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

// JSON credentials as served by ECS and IMDS. Parse errors never quote the
// body (nlohmann's messages include the bytes read, which may be secrets).
Credentials parse_json_credentials(const std::string& body, const std::string& what) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) throw StorageError(what + " returned a response that is not JSON");
  const auto field = [&](const char* name) -> std::string {
    const auto it = json.find(name);
    return (it != json.end() && it->is_string()) ? it->get<std::string>() : std::string();
  };
  if (json.contains("Code") && field("Code") != "Success") {
    throw StorageError(what + " reported status '" + field("Code") + "'");
  }
  Credentials c{field("AccessKeyId"), field("SecretAccessKey"), field("Token"), std::nullopt};
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    throw StorageError(what + " returned no AccessKeyId and SecretAccessKey");
  }
  const std::string expiration = field("Expiration");
  if (!expiration.empty()) {
    c.expiration = parse_iso8601_utc(expiration);
    if (!c.expiration) throw StorageError(what + " returned an unparsable Expiration");
  }
  return c;
}

std::string url_without_query(const std::string& url) { return url.substr(0, url.find('?')); }

// Plain HTTP is only acceptable towards the container agent or loopback:
// anywhere else the Authorization token and credentials would cross the
// network in clear (the SDKs apply the same rule).
void check_container_uri(const std::string& uri) {
  if (uri.starts_with("https://")) return;
  if (!uri.starts_with("http://")) {
    throw ConfigError("AWS_CONTAINER_CREDENTIALS_FULL_URI '" + url_without_query(uri) +
                      "' must be an http:// or https:// URL");
  }
  std::string host = uri.substr(7, uri.find_first_of("/?#", 7) - 7);
  if (host.starts_with("[")) {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  const bool allowed = host == "localhost" || host.starts_with("127.") || host == "[::1]" ||
                       host == "169.254.170.2" || host == "169.254.170.23" ||
                       host == "[fd00:ec2::23]";
  if (!allowed) {
    throw ConfigError("AWS_CONTAINER_CREDENTIALS_FULL_URI '" + url_without_query(uri) +
                      "' uses plain http to a host that is neither loopback nor the container "
                      "agent; use https");
  }
}

std::optional<Credentials> from_container(const CredentialsEnvironment& env,
                                          HttpTransport& transport, std::string& looked) {
  std::string uri;
  if (env.container_credentials_relative_uri) {
    uri = ecs_host_url + *env.container_credentials_relative_uri;
  } else if (env.container_credentials_full_uri) {
    uri = *env.container_credentials_full_uri;
    check_container_uri(uri);
  } else {
    note(looked,
         "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/AWS_CONTAINER_CREDENTIALS_FULL_URI "
         "not set");
    return std::nullopt;
  }
  HttpRequest request;
  request.method = "GET";
  request.url = uri;
  request.timeout = container_timeout_ms;
  std::optional<std::string> token;
  if (env.container_authorization_token_file) {
    token =
        read_token_file(*env.container_authorization_token_file, "container authorization token");
  } else if (env.container_authorization_token) {
    token = env.container_authorization_token;
  }
  if (token) {
    if (has_line_break(*token)) {
      throw ConfigError(
          "the container authorization token contains a line break; check "
          "AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)");
    }
    request.headers.emplace_back("Authorization", *token);
  }
  const std::string what = "container credentials endpoint " + url_without_query(uri);
  const HttpResponse response = transport.send(request);
  if (response.status != 200) {
    throw StorageError(what + " returned HTTP " + std::to_string(response.status) +
                       "; check the task role and the authorization token");
  }
  return parse_json_credentials(response.body, what);
}

std::optional<Credentials> from_imds(const CredentialsEnvironment& env, HttpTransport& transport,
                                     std::string& looked) {
  std::string base = env.imds_endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string where = "EC2 instance metadata at " + base;
  if (env.imds_disabled) {
    note(looked, where + ": disabled by AWS_EC2_METADATA_DISABLED");
    return std::nullopt;
  }
  HttpRequest token_request;
  token_request.method = "PUT";
  token_request.url = base + "/latest/api/token";
  token_request.headers = {
      {"X-aws-ec2-metadata-token-ttl-seconds", std::to_string(imds_token_ttl_s)}};
  token_request.timeout = imds_timeout_ms;
  HttpResponse token_response;
  try {
    token_response = transport.send(token_request);
  } catch (const TransportError& e) {
    // Not on EC2 (or IMDS blocked): nothing here, the chain goes on.
    note(looked, where + ": unreachable (" + e.what() + ")");
    return std::nullopt;
  }
  if (token_response.status != 200 || token_response.body.empty()) {
    note(looked, where + ": token request returned HTTP " + std::to_string(token_response.status));
    return std::nullopt;
  }
  const std::string token = trim(token_response.body);
  const std::string credentials_path = base + "/latest/meta-data/iam/security-credentials/";

  HttpRequest role_request;
  role_request.method = "GET";
  role_request.url = credentials_path;
  role_request.headers = {{"X-aws-ec2-metadata-token", token}};
  role_request.timeout = imds_timeout_ms;
  const HttpResponse role_response = transport.send(role_request);
  if (role_response.status == 404) {
    note(looked, where + ": no IAM role attached to this instance");
    return std::nullopt;
  }
  if (role_response.status != 200) {
    throw StorageError(where + ": listing the instance's IAM role returned HTTP " +
                       std::to_string(role_response.status));
  }
  std::string role = role_response.body.substr(0, role_response.body.find('\n'));
  role = trim(role);
  if (role.empty()) {
    note(looked, where + ": no IAM role attached to this instance");
    return std::nullopt;
  }
  HttpRequest creds_request = role_request;
  creds_request.url = credentials_path + uri_encode(role);
  const std::string what = where + " for role " + role;
  const HttpResponse creds_response = transport.send(creds_request);
  if (creds_response.status != 200) {
    throw StorageError(what + " returned HTTP " + std::to_string(creds_response.status));
  }
  return parse_json_credentials(creds_response.body, what);
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

// ---------------------------------------------------------------------------
// Providers.

class StaticProvider final : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials credentials) : credentials_(std::move(credentials)) {}
  Credentials get() override { return credentials_; }

 private:
  const Credentials credentials_;
};

// Caches what `fetch` returns until refresh_margin_s before its expiration.
// One refresh at a time: concurrent callers wait for it instead of all
// hitting the endpoint.
class CachingProvider final : public CredentialsProvider {
 public:
  explicit CachingProvider(std::function<Credentials()> fetch) : fetch_(std::move(fetch)) {}

  Credentials get() override {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (cached_ && (!cached_->expiration || now + refresh_margin_s < *cached_->expiration)) {
      return *cached_;
    }
    try {
      cached_ = fetch_();
    } catch (const Error&) {
      // A failed early refresh is not fatal while the old credentials are
      // still valid; the next call tries again.
      if (cached_ && cached_->expiration && now < *cached_->expiration) return *cached_;
      throw;
    }
    return *cached_;
  }

 private:
  const std::function<Credentials()> fetch_;
  std::mutex mutex_;
  std::optional<Credentials> cached_;
};

}  // namespace

std::optional<Clock::time_point> parse_iso8601_utc(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::size_t pos = static_cast<std::size_t>(consumed);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
  }
  long offset_s = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int hours = 0;
    int minutes = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &hours, &minutes) != 2) {
      return std::nullopt;
    }
    offset_s = (text[pos] == '+' ? 1 : -1) * (hours * 3600L + minutes * 60L);
  } else if (pos >= text.size() || (text[pos] != 'Z' && text[pos] != 'z')) {
    return std::nullopt;
  }
  const std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return Clock::from_time_t(t - offset_s);
}

std::shared_ptr<CredentialsProvider> static_credentials(Credentials credentials) {
  return std::make_shared<StaticProvider>(std::move(credentials));
}

CredentialsEnvironment credentials_environment_from_process() {
  CredentialsEnvironment env;
  env.access_key_id = getenv_nonempty("AWS_ACCESS_KEY_ID");
  env.secret_access_key = getenv_nonempty("AWS_SECRET_ACCESS_KEY");
  env.session_token = getenv_nonempty("AWS_SESSION_TOKEN");
  env.profile = active_profile_name();
  env.shared_credentials_file = default_credentials_file_path();
  env.config_file = default_config_file_path();
  env.web_identity_token_file = getenv_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE");
  env.role_arn = getenv_nonempty("AWS_ROLE_ARN");
  env.role_session_name = getenv_nonempty("AWS_ROLE_SESSION_NAME");
  try {
    env.region = resolve_region(std::nullopt);
  } catch (const ConfigError&) {
    env.region.clear();  // STS then uses its global endpoint
  }
  // A custom STS endpoint (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, the
  // profile's endpoint_url) is kept even without a region.
  const ResolvedEndpoint sts =
      resolve_endpoint("sts", std::nullopt, env.region.empty() ? "us-east-1" : env.region);
  if (sts.custom || !env.region.empty()) env.sts_endpoint = sts.url;
  env.container_credentials_full_uri = getenv_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  env.container_credentials_relative_uri =
      getenv_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  env.container_authorization_token = getenv_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
  env.container_authorization_token_file =
      getenv_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  if (auto endpoint = getenv_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    env.imds_endpoint = *endpoint;
  }
  if (auto disabled = getenv_nonempty("AWS_EC2_METADATA_DISABLED")) {
    env.imds_disabled = iequals(trim(*disabled), "true");
  }
  return env;
}

std::shared_ptr<CredentialsProvider> default_credentials_chain(
    std::shared_ptr<HttpTransport> transport, CredentialsEnvironment environment) {
  if (!transport) throw ConfigError("default_credentials_chain needs an HTTP transport");
  // The whole chain runs again on each refresh: the cheap local sources come
  // first, and credentials put there later (e.g. a rotated file) win.
  auto fetch = [transport, env = std::move(environment)]() -> Credentials {
    std::string looked;
    if (auto c = from_environment(env, looked)) return *c;
    if (auto c = from_profile(env, *transport, looked)) return *c;
    if (auto c = from_web_identity(env, *transport, looked)) return *c;
    if (auto c = from_container(env, *transport, looked)) return *c;
    if (auto c = from_imds(env, *transport, looked)) return *c;
    throw ConfigError("no AWS credentials found. Looked at: " + looked +
                      ". Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, configure a profile "
                      "(AWS_PROFILE), or run with an IAM role");
  };
  return std::make_shared<CachingProvider>(std::move(fetch));
}

std::shared_ptr<CredentialsProvider> profile_credentials(std::shared_ptr<HttpTransport> transport,
                                                         CredentialsEnvironment environment) {
  if (!transport) throw ConfigError("profile_credentials needs an HTTP transport");
  // Only the profile's own web identity settings, not the environment's.
  environment.web_identity_token_file.reset();
  environment.role_arn.reset();
  environment.role_session_name.reset();
  auto fetch = [transport, env = std::move(environment)]() -> Credentials {
    std::string looked;
    if (auto c = from_profile(env, *transport, looked)) return *c;
    if (auto c = from_web_identity(env, *transport, looked)) return *c;
    throw ConfigError("profile '" + env.profile + "' has no AWS credentials. Looked at: " + looked +
                      ". Give it aws_access_key_id and aws_secret_access_key, a "
                      "credential_process, or a role_arn with source_profile or "
                      "credential_source");
  };
  return std::make_shared<CachingProvider>(std::move(fetch));
}

}  // namespace prevayler::aws
