#include "aws/credentials.hpp"

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
#include <pugixml.hpp>

#include "aws/aws_config.hpp"
#include "aws/crypto.hpp"
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
constexpr std::chrono::milliseconds sts_timeout_ms{10000};
constexpr const char* ecs_host_url = "http://169.254.170.2";

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

// ISO 8601 UTC instant as AWS returns it: 2026-01-02T03:04:05Z, optionally
// with fractional seconds or a numeric offset.
std::optional<Clock::time_point> parse_iso8601(const std::string& text) {
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

std::optional<Credentials> from_shared_files(const CredentialsEnvironment& env,
                                             std::string& looked) {
  // The credentials file wins over the config file, as in the AWS CLI.
  const auto credentials_file = read_aws_ini_file(env.shared_credentials_file);
  if (auto c = keys_of(find_profile(credentials_file, env.profile, /*config_file=*/false))) {
    return c;
  }
  const auto config_file = read_aws_ini_file(env.config_file);
  if (auto c = keys_of(find_profile(config_file, env.profile, /*config_file=*/true))) return c;
  note(looked, "profile '" + env.profile + "' keys aws_access_key_id/aws_secret_access_key in " +
                   (env.shared_credentials_file.empty() ? "(no credentials file)"
                                                        : env.shared_credentials_file) +
                   " and " + (env.config_file.empty() ? "(no config file)" : env.config_file) +
                   ": not found");
  return std::nullopt;
}

std::string sts_endpoint_of(const CredentialsEnvironment& env) {
  if (!env.sts_endpoint.empty()) {
    std::string url = env.sts_endpoint;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }
  if (env.region.empty()) return "https://sts.amazonaws.com";
  return "https://sts." + env.region + ".amazonaws.com";
}

Credentials parse_sts_credentials(const std::string& body, const std::string& what) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) {
    throw StorageError(what + " returned a response that is not XML");
  }
  const pugi::xml_node creds = doc.child("AssumeRoleWithWebIdentityResponse")
                                   .child("AssumeRoleWithWebIdentityResult")
                                   .child("Credentials");
  Credentials c{creds.child_value("AccessKeyId"), creds.child_value("SecretAccessKey"),
                creds.child_value("SessionToken"), std::nullopt};
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    throw StorageError(what + " returned no Credentials/AccessKeyId and SecretAccessKey");
  }
  const std::string expiration = creds.child_value("Expiration");
  if (!expiration.empty()) {
    c.expiration = parse_iso8601(expiration);
    if (!c.expiration) throw StorageError(what + " returned an unparsable Expiration");
  }
  return c;
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
  const std::string token = read_token_file(*token_file, "web identity token");
  if (!session_name) {
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
            .count();
    session_name = "prevayler-cpp-" + std::to_string(now_ms);
  }
  const std::string endpoint = sts_endpoint_of(env);
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint + "/";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                     {"Accept", "application/xml"}};
  // AssumeRoleWithWebIdentity is not signed: the token is the proof.
  request.body =
      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + uri_encode(*role_arn) +
      "&RoleSessionName=" + uri_encode(*session_name) + "&WebIdentityToken=" + uri_encode(token);
  request.timeout = sts_timeout_ms;
  const std::string what =
      "STS AssumeRoleWithWebIdentity at " + endpoint + " for role " + *role_arn;
  const HttpResponse response = transport.send(request);
  if (response.status != 200) {
    std::string detail;
    pugi::xml_document doc;
    if (doc.load_buffer(response.body.data(), response.body.size())) {
      const auto error = doc.child("ErrorResponse").child("Error");
      detail = std::string(error.child_value("Code"));
      std::string message = error.child_value("Message");
      // The service should never echo the token, but make sure of it.
      if (message.find(token) != std::string::npos) message.clear();
      if (!message.empty()) detail += ": " + message;
    }
    throw StorageError(what + " failed with HTTP " + std::to_string(response.status) +
                       (detail.empty() ? "" : " (" + detail + ")") +
                       "; check the role's trust policy and the token file " + *token_file);
  }
  return parse_sts_credentials(response.body, what);
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
    c.expiration = parse_iso8601(expiration);
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

std::shared_ptr<CredentialsProvider> static_credentials(Credentials credentials) {
  return std::make_shared<StaticProvider>(std::move(credentials));
}

std::shared_ptr<CredentialsProvider> default_credentials_chain(
    std::shared_ptr<HttpTransport> transport, CredentialsEnvironment environment) {
  if (!transport) throw ConfigError("default_credentials_chain needs an HTTP transport");
  // The whole chain runs again on each refresh: the cheap local sources come
  // first, and credentials put there later (e.g. a rotated file) win.
  auto fetch = [transport, env = std::move(environment)]() -> Credentials {
    std::string looked;
    if (auto c = from_environment(env, looked)) return *c;
    if (auto c = from_shared_files(env, looked)) return *c;
    if (auto c = from_web_identity(env, *transport, looked)) return *c;
    if (auto c = from_container(env, *transport, looked)) return *c;
    if (auto c = from_imds(env, *transport, looked)) return *c;
    throw ConfigError("no AWS credentials found. Looked at: " + looked +
                      ". Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, configure a profile "
                      "(AWS_PROFILE), or run with an IAM role");
  };
  return std::make_shared<CachingProvider>(std::move(fetch));
}

}  // namespace prevayler::aws
