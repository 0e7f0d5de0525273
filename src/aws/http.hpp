// The HTTP transport seam of the AWS client. Everything the AWS client sends
// goes through HttpTransport::send, so tests can wrap a real transport and
// inject throttling, 5xx, resets and time-outs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prevayler/error.hpp"

namespace prevayler::aws {

// Header names are compared case-insensitively; requests keep the case given.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "PUT", "POST", "HEAD", "DELETE"
  std::string url;     // absolute, already URI-encoded: scheme://host[:port]/path[?query]
  HttpHeaders headers;
  std::string body;
  // Whole-request limit; zero means the transport's default.
  std::chrono::milliseconds timeout{0};
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  // First header with this name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

// The request did not produce an HTTP response: DNS failure, connection
// refused or reset, time-out. `maybe_delivered` is true when the server may
// have received and applied the request (the failure happened after the
// request started to go out), which makes the outcome of a write unknown.
class TransportError : public StorageError {
 public:
  TransportError(const std::string& what, bool maybe_delivered)
      : StorageError(what), maybe_delivered_(maybe_delivered) {}
  bool maybe_delivered() const noexcept { return maybe_delivered_; }

 private:
  bool maybe_delivered_;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request and returns the response, whatever its status.
  // Throws TransportError when no response arrived. Thread-safe.
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

// Case-insensitive ASCII comparison, for header names.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace prevayler::aws
