#include "aws/credentials.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <utility>

#include "aws/aws_config.hpp"
#include "aws/credentials_metadata.hpp"
#include "aws/credentials_profile.hpp"
#include "aws/credentials_source.hpp"
#include "prevayler/error.hpp"

namespace prevayler::aws {

namespace {

using Clock = std::chrono::system_clock;

// Temporary credentials are replaced this long before they expire, so that a
// request signed just before expiry still reaches AWS in time (the SDKs use
// 5 to 15 minutes).
constexpr std::chrono::seconds refresh_margin_s{300};

std::optional<std::string> getenv_nonempty(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
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

// ---------------------------------------------------------------------------
// What the sources share (credentials_source.hpp).

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

// ---------------------------------------------------------------------------
// Public functions (credentials.hpp).

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
