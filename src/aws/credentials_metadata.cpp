#include "aws/credentials_metadata.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "aws/credentials_source.hpp"
#include "aws/crypto.hpp"
#include "prevayler/error.hpp"

namespace prevayler::aws {

namespace {

// IMDS is only reachable on EC2: a short time-out makes the chain fail fast
// everywhere else.
constexpr std::chrono::milliseconds imds_timeout_ms{1000};
constexpr int imds_token_ttl_s = 21600;
constexpr std::chrono::milliseconds container_timeout_ms{2000};
constexpr const char* ecs_host_url = "http://169.254.170.2";

bool has_line_break(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

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

}  // namespace

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

}  // namespace prevayler::aws
