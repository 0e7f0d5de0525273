// HttpTransport on libcurl: keep-alive connection reuse (a pool of easy
// handles), connect and request time-outs, TLS verification on unless
// explicitly disabled for a local endpoint.
#pragma once

#include <chrono>
#include <memory>

#include "aws/http.hpp"

namespace prevayler::aws {

struct CurlTransportOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds request_timeout{30000};  // per request unless HttpRequest::timeout
  bool verify_tls = true;
  std::size_t max_idle_connections = 64;
};

std::shared_ptr<HttpTransport> make_curl_transport(CurlTransportOptions options = {});

}  // namespace prevayler::aws
