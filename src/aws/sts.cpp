#include "aws/sts.hpp"

#include <cassert>
#include <chrono>
#include <utility>

#include <pugixml.hpp>

#include "aws/crypto.hpp"
#include "aws/sigv4.hpp"
#include "prevayler/error.hpp"

namespace prevayler::aws {

namespace {

constexpr std::chrono::milliseconds sts_timeout_ms{10000};
constexpr const char* sts_api_version = "2011-06-15";

HttpRequest sts_request(const StsEndpoint& endpoint, std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint.url + "/";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                     {"Accept", "application/xml"}};
  request.body = std::move(body);
  request.timeout = sts_timeout_ms;
  return request;
}

// "Code: Message" of an STS error body, with `hidden` (a token or secret the
// request carried) removed should the service ever echo it.
std::string error_detail(const std::string& body, const std::string& hidden) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return {};
  const auto error = doc.child("ErrorResponse").child("Error");
  std::string detail = error.child_value("Code");
  std::string message = error.child_value("Message");
  if (!hidden.empty() && message.find(hidden) != std::string::npos) message.clear();
  if (!message.empty()) detail += ": " + message;
  return detail;
}

// Sends the call and returns the <Credentials> of <ACTIONResponse><ACTIONResult>.
Credentials call(HttpTransport& transport, const HttpRequest& request, const std::string& action,
                 const std::string& what, const std::string& hidden, const std::string& remedy) {
  const HttpResponse response = transport.send(request);
  if (response.status != 200) {
    const std::string detail = error_detail(response.body, hidden);
    throw StorageError(what + " failed with HTTP " + std::to_string(response.status) +
                       (detail.empty() ? "" : " (" + detail + ")") + "; " + remedy);
  }
  pugi::xml_document doc;
  if (!doc.load_buffer(response.body.data(), response.body.size())) {
    throw StorageError(what + " returned a response that is not XML");
  }
  const pugi::xml_node creds = doc.child((action + "Response").c_str())
                                   .child((action + "Result").c_str())
                                   .child("Credentials");
  Credentials c{creds.child_value("AccessKeyId"), creds.child_value("SecretAccessKey"),
                creds.child_value("SessionToken"), std::nullopt};
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    throw StorageError(what + " returned no Credentials/AccessKeyId and SecretAccessKey");
  }
  const std::string expiration = creds.child_value("Expiration");
  if (!expiration.empty()) {
    c.expiration = parse_iso8601_utc(expiration);
    if (!c.expiration) throw StorageError(what + " returned an unparsable Expiration");
  }
  return c;
}

}  // namespace

Credentials sts_assume_role(HttpTransport& transport, const StsEndpoint& endpoint,
                            const Credentials& source, const AssumeRoleParameters& parameters) {
  assert(!source.access_key_id.empty() && !source.secret_access_key.empty());
  std::string body = std::string("Action=AssumeRole&Version=") + sts_api_version +
                     "&RoleArn=" + uri_encode(parameters.role_arn) +
                     "&RoleSessionName=" + uri_encode(parameters.role_session_name);
  if (parameters.external_id) body += "&ExternalId=" + uri_encode(*parameters.external_id);
  if (parameters.duration_seconds) {
    body += "&DurationSeconds=" + std::to_string(*parameters.duration_seconds);
  }
  HttpRequest request = sts_request(endpoint, std::move(body));
  SigningOptions signing;
  signing.region = endpoint.region;
  signing.service = "sts";
  signing.time = std::chrono::system_clock::now();
  sign_request(request, source, signing);
  return call(transport, request, "AssumeRole",
              "STS AssumeRole at " + endpoint.url + " for role " + parameters.role_arn,
              source.secret_access_key,
              "check the role's trust policy and that the source credentials may call "
              "sts:AssumeRole on it");
}

Credentials sts_assume_role_with_web_identity(HttpTransport& transport, const StsEndpoint& endpoint,
                                              const std::string& role_arn,
                                              const std::string& role_session_name,
                                              const std::string& token,
                                              const std::string& token_file) {
  const HttpRequest request =
      sts_request(endpoint, std::string("Action=AssumeRoleWithWebIdentity&Version=") +
                                sts_api_version + "&RoleArn=" + uri_encode(role_arn) +
                                "&RoleSessionName=" + uri_encode(role_session_name) +
                                "&WebIdentityToken=" + uri_encode(token));
  return call(transport, request, "AssumeRoleWithWebIdentity",
              "STS AssumeRoleWithWebIdentity at " + endpoint.url + " for role " + role_arn, token,
              "check the role's trust policy and the token file " + token_file);
}

}  // namespace prevayler::aws
