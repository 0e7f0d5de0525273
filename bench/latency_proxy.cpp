// A loopback-only TCP proxy that adds latency: every byte a client sends is
// forwarded to the upstream server D ms after it arrived (each request, or
// each burst of a request, is delayed by D ms; bursts that arrive together
// are not delayed twice). Replies come back undelayed, so a request/reply
// round trip costs D ms more. Used by bench/run_all.sh for the "+5 ms" runs
// of the AWS benchmarks (moto_server behind it, like a remote DynamoDB).
//
//   prevayler_latency_proxy --listen [127.0.0.1:]PORT --upstream [127.0.0.1:]PORT
//                           [--delay-ms D]
//
// PORT 0 picks a free port. Prints "listening 127.0.0.1:PORT" once ready.
// Refuses any address outside 127.0.0.0/8: it is a benchmark tool, not a
// relay. One thread per direction and connection; keep-alive connections
// stay open as long as both ends keep them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t chunk_bytes_max = 64 * 1024;
constexpr int listen_backlog = 512;

struct Address {
  in_addr host{};
  std::uint16_t port = 0;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "prevayler_latency_proxy: %s\n", message.c_str());
  std::exit(2);
}

// "PORT" or "HOST:PORT", HOST in 127.0.0.0/8.
Address parse_address(const std::string& text) {
  Address a;
  std::string host = "127.0.0.1";
  std::string port = text;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), &a.host) != 1) die("not an IPv4 address: " + host);
  if ((ntohl(a.host.s_addr) >> 24) != 127) die("refusing non-loopback address " + host);
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) die("bad port: " + port);
  a.port = static_cast<std::uint16_t>(p);
  return a;
}

sockaddr_in to_sockaddr(const Address& a) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_addr = a.host;
  s.sin_port = htons(a.port);
  return s;
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// One client connection and its upstream connection. The three threads
// share it; the last one to finish closes both sockets.
struct Connection {
  int client = -1;
  int upstream = -1;
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<std::pair<Clock::time_point, std::string>> delayed;  // client -> upstream
  bool client_done = false;
  bool upstream_failed = false;
  ~Connection() {
    ::close(client);
    ::close(upstream);
  }
};

// client -> queue, stamped with the time each chunk arrived.
void read_client(std::shared_ptr<Connection> c, Clock::duration delay) {
  std::vector<char> buffer(chunk_bytes_max);
  for (;;) {
    const ssize_t n = ::recv(c->client, buffer.data(), buffer.size(), 0);
    std::lock_guard lock(c->mutex);
    if (n <= 0 || c->upstream_failed) {
      c->client_done = true;
      c->ready.notify_all();
      return;
    }
    c->delayed.emplace_back(Clock::now() + delay,
                            std::string(buffer.data(), static_cast<std::size_t>(n)));
    c->ready.notify_all();
  }
}

// queue -> upstream, each chunk once its delay is over.
void send_upstream(std::shared_ptr<Connection> c) {
  std::unique_lock lock(c->mutex);
  for (;;) {
    c->ready.wait(lock, [&] { return !c->delayed.empty() || c->client_done; });
    if (c->delayed.empty()) break;  // client closed and everything forwarded
    auto [due, data] = std::move(c->delayed.front());
    c->delayed.pop_front();
    lock.unlock();
    std::this_thread::sleep_until(due);
    const bool ok = write_all(c->upstream, data.data(), data.size());
    lock.lock();
    if (!ok) {
      c->upstream_failed = true;
      ::shutdown(c->client, SHUT_RDWR);
      return;
    }
  }
  ::shutdown(c->upstream, SHUT_WR);
}

// upstream -> client, undelayed.
void read_upstream(std::shared_ptr<Connection> c) {
  std::vector<char> buffer(chunk_bytes_max);
  for (;;) {
    const ssize_t n = ::recv(c->upstream, buffer.data(), buffer.size(), 0);
    if (n <= 0 || !write_all(c->client, buffer.data(), static_cast<std::size_t>(n))) break;
  }
  ::shutdown(c->client, SHUT_RDWR);  // wakes read_client
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_text;
  std::string upstream_text;
  double delay_ms = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) die("missing value after " + arg);
    if (arg == "--listen") {
      listen_text = argv[++i];
    } else if (arg == "--upstream") {
      upstream_text = argv[++i];
    } else if (arg == "--delay-ms") {
      delay_ms = std::atof(argv[++i]);
    } else {
      die("unknown argument " + arg);
    }
  }
  if (listen_text.empty() || upstream_text.empty() || delay_ms < 0) {
    std::fprintf(stderr,
                 "usage: prevayler_latency_proxy --listen [127.0.0.1:]PORT "
                 "--upstream [127.0.0.1:]PORT [--delay-ms D]\n");
    return 2;
  }
  const Address listen_at = parse_address(listen_text);
  const Address upstream = parse_address(upstream_text);
  const auto delay = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(delay_ms));
  ::signal(SIGPIPE, SIG_IGN);

  const int server = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in bind_to = to_sockaddr(listen_at);
  if (::bind(server, reinterpret_cast<sockaddr*>(&bind_to), sizeof bind_to) != 0 ||
      ::listen(server, listen_backlog) != 0) {
    die(std::string("cannot listen: ") + std::strerror(errno));
  }
  sockaddr_in bound{};
  socklen_t bound_size = sizeof bound;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&bound), &bound_size);
  std::printf("listening 127.0.0.1:%u -> 127.0.0.1:%u, delay %.3f ms\n", ntohs(bound.sin_port),
              upstream.port, delay_ms);
  std::fflush(stdout);

  const sockaddr_in upstream_address = to_sockaddr(upstream);
  for (;;) {
    const int client = ::accept(server, nullptr, nullptr);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      die(std::string("accept: ") + std::strerror(errno));
    }
    auto c = std::make_shared<Connection>();
    c->client = client;
    c->upstream = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(c->upstream, reinterpret_cast<const sockaddr*>(&upstream_address),
                  sizeof upstream_address) != 0) {
      std::fprintf(stderr, "prevayler_latency_proxy: upstream: %s\n", std::strerror(errno));
      continue;  // c closes both sockets
    }
    no_delay(c->client);
    no_delay(c->upstream);
    std::thread(read_client, c, delay).detach();
    std::thread(send_upstream, c).detach();
    std::thread(read_upstream, c).detach();
  }
}
