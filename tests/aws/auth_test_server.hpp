// A small HTTP/1.1 server on 127.0.0.1 for tests of the curl transport and
// the credential providers. Written on POSIX sockets rather than on
// cpp-httplib because Debian's libcpp-httplib-dev is a compiled library
// (needs -lcpp-httplib), and this keeps the test target's link line as is.
//
// Supports keep-alive, Content-Length bodies, HEAD, delayed responses (for
// time-outs), interim 100 responses, and counts accepted connections.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "aws/http.hpp"

namespace prevayler::aws::auth_test {

struct TestRequest {
  std::string method;
  std::string target;  // path and query as sent
  HttpHeaders headers;
  std::string body;
  int connection_id = 0;  // 1 for the first accepted connection, ...

  const std::string* header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (iequals(key, name)) return &value;
    }
    return nullptr;
  }
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct TestResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // before anything is written
  bool send_interim_100 = false;       // "HTTP/1.1 100 Continue" first
  bool close = false;                  // close the connection after it
};

class TestHttpServer {
 public:
  using Handler = std::function<TestResponse(const TestRequest&)>;

  explicit TestHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("test server: socket() failed");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // any free port
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("test server: bind/listen on 127.0.0.1 failed");
    }
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~TestHttpServer() { stop(); }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  void stop() {
    if (stopping_.exchange(true)) return;
    if (accept_thread_.joinable()) accept_thread_.join();
    ::close(listen_fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      for (const int fd : connection_fds_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(connection_threads_);
    }
    for (auto& t : threads) t.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  std::vector<TestRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      const int id = ++connections_;
      std::lock_guard lock(mutex_);
      connection_fds_.push_back(fd);
      connection_threads_.emplace_back([this, fd, id] { serve(fd, id); });
    }
  }

  // Reads more bytes into `buffer`; false on EOF, error or stop.
  bool read_more(int fd, std::string& buffer) {
    while (!stopping_) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 50);
      if (ready < 0) return false;
      if (ready == 0) continue;
      char chunk[65536];
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  bool write_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  void serve(int fd, int id) {
    std::string buffer;
    while (!stopping_) {
      std::size_t header_end;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!read_more(fd, buffer)) return finish(fd);
      }
      TestRequest request;
      request.connection_id = id;
      const std::string head = buffer.substr(0, header_end);
      buffer.erase(0, header_end + 4);
      std::size_t line_end = head.find("\r\n");
      const std::string request_line = head.substr(0, line_end);
      const auto sp1 = request_line.find(' ');
      const auto sp2 = request_line.find(' ', sp1 + 1);
      request.method = request_line.substr(0, sp1);
      request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      std::size_t content_length = 0;
      while (line_end != std::string::npos) {
        const std::size_t start = line_end + 2;
        line_end = head.find("\r\n", start);
        const std::string line = head.substr(
            start, line_end == std::string::npos ? std::string::npos : line_end - start);
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        request.headers.emplace_back(line.substr(0, colon), value);
        if (iequals(line.substr(0, colon), "content-length")) content_length = std::stoul(value);
      }
      while (buffer.size() < content_length) {
        if (!read_more(fd, buffer)) return finish(fd);
      }
      request.body = buffer.substr(0, content_length);
      buffer.erase(0, content_length);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      const TestResponse response = handler_(request);
      const auto deadline = std::chrono::steady_clock::now() + response.delay;
      while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      std::string out;
      if (response.send_interim_100) out += "HTTP/1.1 100 Continue\r\n\r\n";
      out += "HTTP/1.1 " + std::to_string(response.status) + " Status\r\n";
      for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
      out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
      if (response.close) out += "Connection: close\r\n";
      out += "\r\n";
      if (request.method != "HEAD") out += response.body;
      if (!write_all(fd, out) || response.close) return finish(fd);
    }
    finish(fd);
  }

  void finish(int fd) {
    std::lock_guard lock(mutex_);
    std::erase(connection_fds_, fd);
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread accept_thread_;
  mutable std::mutex mutex_;
  std::vector<int> connection_fds_;
  std::vector<std::thread> connection_threads_;
  std::vector<TestRequest> requests_;
};

}  // namespace prevayler::aws::auth_test
