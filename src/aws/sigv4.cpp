// AWS Signature Version 4, following
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
#include "aws/sigv4.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <utility>
#include <vector>

#include "aws/crypto.hpp"
#include "prevayler/error.hpp"

namespace prevayler::aws {

namespace {

constexpr std::string_view signing_algorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view unsigned_payload_hash = "UNSIGNED-PAYLOAD";

// Headers never signed: Authorization carries the signature itself, and the
// others are commonly added or rewritten by proxies and HTTP stacks after
// signing (aws-c-auth and the Java SDK skip the same ones).
constexpr std::string_view unsigned_header_names[] = {"authorization", "user-agent", "expect",
                                                      "x-amzn-trace-id"};

struct UrlParts {
  std::string scheme;
  std::string authority;  // host[:port] as written
  std::string path;       // already URI-encoded, may be empty
  std::string query;      // without '?', may be empty
};

UrlParts split_url(std::string_view url) {
  UrlParts parts;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    throw ConfigError("cannot sign request: URL '" + std::string(url.substr(0, url.find('?'))) +
                      "' is not absolute (expected scheme://host/path)");
  }
  parts.scheme = std::string(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const auto path_start = rest.find_first_of("/?");
  parts.authority = std::string(rest.substr(0, path_start));
  if (path_start == std::string_view::npos) return parts;
  rest = rest.substr(path_start);
  const auto q = rest.find('?');
  parts.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) parts.query = std::string(rest.substr(q + 1));
  return parts;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Host header value: the URL's authority without a default port, as HTTP
// clients send it (a mismatch with the sent Host makes the signature fail).
std::string host_header_value(const UrlParts& url) {
  std::string host = url.authority;
  if (const auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  const auto colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']', colon) == std::string::npos) {
    const std::string port = host.substr(colon + 1);
    if ((url.scheme == "https" && port == "443") || (url.scheme == "http" && port == "80")) {
      host.resize(colon);
    }
  }
  return host;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; malformed escapes are kept literally so that the
// re-encoding below turns them into a well-defined form.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string canonical_uri(std::string_view path, bool s3) {
  if (path.empty()) return "/";
  // S3 signs the path exactly as sent (encoded once); object keys may
  // legitimately contain "//" or "..".
  if (s3) return std::string(path);
  // Other services: remove dot segments and empty segments, then encode each
  // segment again (the URL carries it encoded once already).
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& segment : segments) {
    out += '/';
    out += uri_encode(segment);
  }
  const bool trailing_slash = path.back() == '/' || path.ends_with("/.") || path.ends_with("/..");
  if (out.empty() || trailing_slash) out += '/';
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view param = query.substr(start, end - start);
    if (!param.empty()) {
      const auto eq = param.find('=');
      const std::string_view key = param.substr(0, eq);
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
      // Decode then re-encode, so that raw and already-encoded input give the
      // single canonical encoding SigV4 requires.
      params.emplace_back(uri_encode(percent_decode(key)), uri_encode(percent_decode(value)));
    }
    start = end + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out += '&';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

// Trims the value and collapses runs of spaces, as SigV4 specifies.
std::string canonical_header_value(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (const char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

bool is_unsigned_header(std::string_view lower_name) {
  return std::find(std::begin(unsigned_header_names), std::end(unsigned_header_names),
                   lower_name) != std::end(unsigned_header_names);
}

// Lower-cased name -> values joined with ',' in request order.
std::map<std::string, std::string> signed_header_map(const HttpHeaders& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    std::string lower = to_lower(canonical_header_value(name));
    if (is_unsigned_header(lower)) continue;
    auto [it, inserted] = out.try_emplace(std::move(lower), canonical_header_value(value));
    if (!inserted) {
      it->second += ',';
      it->second += canonical_header_value(value);
    }
  }
  return out;
}

std::string signed_header_list(const std::map<std::string, std::string>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string format_amz_date(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[sizeof("20150830T123600Z")];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

void remove_header(HttpHeaders& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
}

bool has_header(const HttpHeaders& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

std::string as_string(const std::array<unsigned char, 32>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

std::string canonical_request(const HttpRequest& request, std::string_view payload_hash_hex,
                              bool s3) {
  const UrlParts url = split_url(request.url);
  const auto headers = signed_header_map(request.headers);
  std::string out;
  out += request.method;
  out += '\n';
  out += canonical_uri(url.path, s3);
  out += '\n';
  out += canonical_query(url.query);
  out += '\n';
  for (const auto& [name, value] : headers) {
    out += name;
    out += ':';
    out += value;
    out += '\n';
  }
  out += '\n';
  out += signed_header_list(headers);
  out += '\n';
  out += payload_hash_hex;
  return out;
}

std::string string_to_sign(std::string_view canonical_request, std::string_view amz_date,
                           std::string_view scope) {
  std::string out;
  out += signing_algorithm;
  out += '\n';
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += sha256_hex(canonical_request);
  return out;
}

void sign_request(HttpRequest& request, const Credentials& credentials,
                  const SigningOptions& options) {
  if (options.region.empty() || options.service.empty()) {
    throw ConfigError("cannot sign request to " + request.url.substr(0, request.url.find('?')) +
                      ": the signing region and service must be set");
  }
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    throw ConfigError("cannot sign request to " + request.url.substr(0, request.url.find('?')) +
                      ": the credentials have an empty access key id or secret access key");
  }
  const UrlParts url = split_url(request.url);
  if (!has_header(request.headers, "host")) {
    request.headers.emplace_back("host", host_header_value(url));
  }

  // Replace what a previous signing (e.g. of a retried request) added.
  remove_header(request.headers, "authorization");
  remove_header(request.headers, "x-amz-date");
  remove_header(request.headers, "x-amz-security-token");

  const std::string amz_date = format_amz_date(options.time);
  request.headers.emplace_back("x-amz-date", amz_date);
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
  const std::string payload_hash =
      options.unsigned_payload ? std::string(unsigned_payload_hash) : sha256_hex(request.body);
  if (options.s3) {
    remove_header(request.headers, "x-amz-content-sha256");
    request.headers.emplace_back("x-amz-content-sha256", payload_hash);
  }

  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + options.region + "/" + options.service + "/aws4_request";
  const std::string creq = canonical_request(request, payload_hash, options.s3);
  const std::string sts = string_to_sign(creq, amz_date, scope);

  const auto k_date = hmac_sha256("AWS4" + credentials.secret_access_key, date);
  const auto k_region = hmac_sha256(as_string(k_date), options.region);
  const auto k_service = hmac_sha256(as_string(k_region), options.service);
  const auto k_signing = hmac_sha256(as_string(k_service), "aws4_request");
  const auto signature = hmac_sha256(as_string(k_signing), sts);

  std::string authorization;
  authorization += signing_algorithm;
  authorization += " Credential=" + credentials.access_key_id + "/" + scope;
  authorization += ", SignedHeaders=" + signed_header_list(signed_header_map(request.headers));
  authorization += ", Signature=" + hex(signature.data(), signature.size());
  request.headers.emplace_back("Authorization", std::move(authorization));
}

}  // namespace prevayler::aws
