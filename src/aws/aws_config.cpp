#include "aws/aws_config.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "prevayler/error.hpp"

namespace prevayler::aws {

namespace {

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  bool pending = false;
  for (const char c : trim(s)) {
    if (is_space(c)) {
      pending = true;
      continue;
    }
    if (pending) out += ' ';
    pending = false;
    out += c;
  }
  return out;
}

std::string home_path(std::string_view relative) {
  const auto home = env("HOME");
  return (home ? *home : std::string()) + "/" + std::string(relative);
}

std::string expand_tilde(std::string path) {
  if (path == "~" || path.starts_with("~/"))
    return home_path(path.size() > 2 ? path.substr(2) : "");
  return path;
}

// "https://host[:port]" with an optional trailing slash; anything else (no
// scheme, a path, a query) is rejected so that mistakes surface at start-up.
std::string validate_endpoint(std::string url, std::string_view source) {
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  const bool http = url.starts_with("http://");
  const bool https = url.starts_with("https://");
  const std::size_t host_start = https ? 8 : 7;
  if ((!http && !https) || url.size() <= host_start ||
      url.find_first_of("/?#", host_start) != std::string::npos) {
    throw ConfigError("invalid endpoint URL '" + redact_userinfo(url) + "' from " +
                      std::string(source) + ": expected http(s)://host[:port] without a path");
  }
  if (url.find('@', host_start) != std::string::npos) {
    throw ConfigError("endpoint URL '" + redact_userinfo(url) + "' from " + std::string(source) +
                      " carries a user name or password; remove it: requests are signed with "
                      "the AWS credentials, never sent with URL credentials");
  }
  return url;
}

std::string service_env_suffix(std::string_view service) {
  std::string out;
  for (const char c : service) {
    out += (c == '-' || c == ' ') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string redact_userinfo(const std::string& url) {
  const std::size_t scheme_end = url.find("://");
  const std::size_t authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const std::size_t authority_end = url.find_first_of("/?#", authority);
  const std::size_t at =
      url.rfind('@', authority_end == std::string::npos ? url.npos : authority_end - 1);
  if (at == std::string::npos || at < authority) return url;
  return url.substr(0, authority) + "***@" + url.substr(at + 1);
}

AwsIniSections parse_aws_ini(std::string_view text) {
  AwsIniSections sections;
  std::map<std::string, std::string>* current = nullptr;
  bool in_nested_block = false;  // after `key =` with an empty value
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view raw = text.substr(start, end - start);
    start = end + 1;

    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    const bool indented = is_space(raw.front());
    if (line.front() == '[') {
      const auto close = line.find(']');
      if (close == std::string_view::npos) {
        current = nullptr;  // malformed header: ignore its keys too
        continue;
      }
      current = &sections[collapse_spaces(line.substr(1, close - 1))];
      in_nested_block = false;
      continue;
    }
    // Indented lines continue a nested sub-section (`s3 =\n  key = v`) or a
    // multi-line value; neither carries anything this client reads.
    if (indented && in_nested_block) continue;
    if (indented) continue;
    in_nested_block = false;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || current == nullptr) continue;
    const std::string key(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    for (std::size_t i = 1; i < value.size(); ++i) {
      if ((value[i] == '#' || value[i] == ';') && is_space(value[i - 1])) {
        value = trim(value.substr(0, i));
        break;
      }
    }
    if (key.empty()) continue;
    if (value.empty()) {
      in_nested_block = true;
      continue;
    }
    (*current)[key] = std::string(value);
  }
  return sections;
}

AwsIniSections read_aws_ini_file(const std::string& path) {
  if (path.empty()) return {};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read AWS shared file " + path + ": " + std::strerror(errno) +
                      "; fix its permissions or point AWS_CONFIG_FILE / "
                      "AWS_SHARED_CREDENTIALS_FILE elsewhere");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_aws_ini(text.str());
}

const std::map<std::string, std::string>* find_profile(const AwsIniSections& sections,
                                                       const std::string& profile,
                                                       bool config_file) {
  if (config_file) {
    // [profile default] is accepted too, as the AWS CLI does.
    if (auto it = sections.find("profile " + profile); it != sections.end()) return &it->second;
    if (profile != "default") return nullptr;
  }
  if (auto it = sections.find(profile); it != sections.end()) return &it->second;
  return nullptr;
}

std::string active_profile_name() { return env("AWS_PROFILE").value_or("default"); }

std::string default_config_file_path() {
  if (auto path = env("AWS_CONFIG_FILE")) return expand_tilde(*path);
  return home_path(".aws/config");
}

std::string default_credentials_file_path() {
  if (auto path = env("AWS_SHARED_CREDENTIALS_FILE")) return expand_tilde(*path);
  return home_path(".aws/credentials");
}

std::optional<std::string> profile_config_value(const std::string& key) {
  const auto sections = read_aws_ini_file(default_config_file_path());
  const auto* profile = find_profile(sections, active_profile_name(), /*config_file=*/true);
  if (profile == nullptr) return std::nullopt;
  const auto it = profile->find(key);
  if (it == profile->end()) return std::nullopt;
  return it->second;
}

std::string resolve_region(const std::optional<std::string>& explicit_region) {
  if (explicit_region && !explicit_region->empty()) return *explicit_region;
  if (auto region = env("AWS_REGION")) return *region;
  if (auto region = env("AWS_DEFAULT_REGION")) return *region;
  if (auto region = profile_config_value("region")) return *region;
  throw ConfigError(
      "no AWS region configured: looked at the explicit option, AWS_REGION, "
      "AWS_DEFAULT_REGION and `region` in profile '" +
      active_profile_name() + "' of " + default_config_file_path() +
      "; set one of them (e.g. AWS_REGION=us-east-1)");
}

ResolvedEndpoint resolve_endpoint(std::string_view service,
                                  const std::optional<std::string>& explicit_endpoint,
                                  const std::string& region) {
  if (explicit_endpoint && !explicit_endpoint->empty()) {
    return {validate_endpoint(*explicit_endpoint, "the explicit endpoint option"), true};
  }
  const std::string service_var = "AWS_ENDPOINT_URL_" + service_env_suffix(service);
  if (auto url = env(service_var.c_str())) return {validate_endpoint(*url, service_var), true};
  if (auto url = env("AWS_ENDPOINT_URL"))
    return {validate_endpoint(*url, "AWS_ENDPOINT_URL"), true};
  if (auto url = profile_config_value("endpoint_url")) {
    return {validate_endpoint(*url, "endpoint_url in " + default_config_file_path()), true};
  }
  if (region.empty()) {
    throw ConfigError("cannot build the default " + std::string(service) +
                      " endpoint: the region is empty; set AWS_REGION or an endpoint URL");
  }
  return {"https://" + std::string(service) + "." + region + ".amazonaws.com", false};
}

}  // namespace prevayler::aws
