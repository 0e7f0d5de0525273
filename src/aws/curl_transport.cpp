#include "aws/curl_transport.hpp"

#include "aws/aws_config.hpp"

#include <curl/curl.h>

#include <mutex>
#include <string>
#include <vector>

namespace prevayler::aws {

namespace {

constexpr const char* user_agent = "prevayler-cpp";

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never cleaned up: other threads may still use handles at exit.
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw StorageError("libcurl global initialisation failed; check the libcurl installation");
    }
  });
}

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// Failures that certainly happened before any byte of the request left:
// name resolution, TCP connect, TLS handshake. Everything else (time-outs,
// resets, partial transfers) may have reached the server.
bool certainly_not_sent(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return true;
    default:
      return false;
  }
}

std::string without_query(const std::string& url) {
  return redact_userinfo(url.substr(0, url.find('?')));
}

struct ResponseSink {
  HttpResponse* response;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  sink->response->body.append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  const std::size_t total = size * count;
  std::string_view line(data, total);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  auto& headers = sink->response->headers;
  if (line.starts_with("HTTP/")) {
    // A new status line: the headers so far belonged to an interim (1xx)
    // response, which is not the one the caller gets.
    headers.clear();
    return total;
  }
  if (line.empty()) return total;
  if ((line.front() == ' ' || line.front() == '\t') && !headers.empty()) {
    // Obsolete line folding: continuation of the previous header's value.
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    headers.back().second += ' ';
    headers.back().second += line;
    return total;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return total;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  return total;
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlTransportOptions options) : options_(options) { global_init_once(); }

  HttpResponse send(const HttpRequest& request) override {
    EasyHandle handle = acquire();
    HttpResponse response;
    ResponseSink sink{&response};
    char error_buffer[CURL_ERROR_SIZE] = {};
    CURL* h = handle.get();
    set_transfer_options(h, request, sink, error_buffer);
    set_method_and_body(h, request);
    Slist headers = header_list(request);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

    const CURLcode code = curl_easy_perform(h);
    if (code != CURLE_OK) {
      std::string message = "HTTP " + request.method + " " + without_query(request.url) +
                            " failed: " + curl_easy_strerror(code);
      if (error_buffer[0] != '\0') message += std::string(" (") + error_buffer + ")";
      // The handle may hold a broken connection; curl discards it itself,
      // so the handle can still go back to the pool.
      release(std::move(handle));
      throw TransportError(message, !certainly_not_sent(code));
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    // The handle must not keep pointers into this stack frame.
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    release(std::move(handle));
    return response;
  }

 private:
  void set_transfer_options(CURL* h, const HttpRequest& request, ResponseSink& sink,
                            char* error_buffer) const {
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    // Send the path exactly as signed: SigV4 signs "." and ".." segments as
    // they are, and curl would otherwise squash them.
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    // Signals are unsafe in a multi-threaded process (DNS time-outs).
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    const auto timeout = request.timeout.count() > 0 ? request.timeout : options_.request_timeout;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  }

  static void set_method_and_body(CURL* h, const HttpRequest& request) {
    const std::string& method = request.method;
    const bool has_body = !request.body.empty() || method == "POST" || method == "PUT";
    if (method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (has_body && method != "HEAD") {
      // POSTFIELDS does not copy: request.body outlives the transfer. Also
      // makes curl send Content-Length (0 for an empty body).
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    }
  }

  static Slist header_list(const HttpRequest& request) {
    Slist headers;
    auto append = [&headers](const std::string& line) {
      curl_slist* next = curl_slist_append(headers.get(), line.c_str());
      if (next == nullptr) throw StorageError("out of memory building HTTP headers");
      headers.release();
      headers.reset(next);
    };
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
      // curl computes Content-Length from the body itself.
      if (iequals(name, "content-length")) continue;
      if (iequals(name, "content-type")) has_content_type = true;
      // "Name;" is curl's syntax for a header with an empty value.
      append(value.empty() ? name + ";" : name + ": " + value);
    }
    // No "Expect: 100-continue" round trip on large bodies.
    append("Expect:");
    // Suppress curl's default form Content-Type for POST/PUT bodies: it
    // would be unsigned and S3 would store it as the object's type.
    if (!has_content_type) append("Content-Type:");
    return headers;
  }

  EasyHandle acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        EasyHandle handle = std::move(idle_.back());
        idle_.pop_back();
        // Reset options but keep the handle's live connections and caches:
        // that is what makes keep-alive work across requests.
        curl_easy_reset(handle.get());
        return handle;
      }
    }
    EasyHandle handle(curl_easy_init());
    if (!handle) throw StorageError("libcurl could not create a handle (out of memory?)");
    return handle;
  }

  void release(EasyHandle handle) {
    curl_easy_setopt(handle.get(), CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(handle.get(), CURLOPT_ERRORBUFFER, nullptr);
    std::lock_guard lock(mutex_);
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(handle));
  }

  const CurlTransportOptions options_;
  std::mutex mutex_;
  std::vector<EasyHandle> idle_;
};

}  // namespace

std::shared_ptr<HttpTransport> make_curl_transport(CurlTransportOptions options) {
  return std::make_shared<CurlTransport>(options);
}

}  // namespace prevayler::aws
