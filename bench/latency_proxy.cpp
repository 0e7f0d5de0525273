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
// With --model dynamodb the proxy reads HTTP/1.1 instead of bytes (one
// request at a time per connection: our client and boto3 do not pipeline)
// and models DynamoDB's published limits (bench/dynamodb_capacity_model.hpp):
// a DynamoDB request (X-Amz-Target DynamoDB_20120810.*) over its partition's
// write or read capacity is answered here with HTTP 400
// ProvisionedThroughputExceededException, not forwarded. Writes (PutItem,
// DeleteItem, UpdateItem, BatchWriteItem: all or nothing) are charged before
// they are forwarded. Reads (GetItem, Query) are admitted while the
// partition's read bucket is not in debt and charged after the reply, when
// their size is known: a burst of parallel reads can overdraw the bucket
// once, then waits for it to refill (DynamoDB charges them up front). Other
// requests (S3, CreateTable, ...) get the delay only. Each request is
// delayed by a latency drawn from a lognormal distribution
// (--latency-median-ms, --latency-p99-ms, --seed) or by --delay-ms. By
// default that latency comes on top of the upstream's own time (as the
// network to a remote service would); with --latency-covers upstream it is
// the whole round trip, the upstream's time inside it (a reply is held until
// its latency is over), so the emulator's cost per request is not added to
// the modelled service's.
// Counters (`name value unit` lines, per table and in total) go to stdout
// every --report-every-s seconds (0: never), on SIGUSR1, and on SIGINT or
// SIGTERM, which then end the proxy.
//
//   prevayler_latency_proxy --model dynamodb --listen PORT --upstream PORT
//       [--latency-median-ms 5 --latency-p99-ms 20 | --delay-ms D] [--seed N]
//       [--latency-covers proxy|upstream] [--write-units-per-s 1000]
//       [--read-units-per-s 3000] [--burst-s 1] [--report-every-s 0]
//
// PORT 0 picks a free port. Prints "listening 127.0.0.1:PORT" once ready.
// Refuses any address outside 127.0.0.0/8: it is a benchmark tool, not a
// relay. One thread per direction and connection; keep-alive connections
// stay open as long as both ends keep them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dynamodb_capacity_model.hpp"

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

// --- --model dynamodb: HTTP/1.1, one request at a time per connection ------

constexpr std::size_t head_bytes_max = 64 * 1024;
constexpr std::size_t body_bytes_max = std::size_t{1} << 30;  // a bench snapshot fits
constexpr std::size_t chunks_max = std::size_t{1} << 20;
constexpr std::string_view dynamodb_target_prefix = "DynamoDB_20120810.";
constexpr std::string_view partition_key_name = "partkey";  // ours and the seed's

struct Model {
  bench::CapacityModel capacity;
  // Latency: lognormal(mu, sigma), or fixed when sigma == 0.
  double median_ms = 0;
  double sigma = 0;
  // false: the latency is added to the upstream's own time (a remote
  // service D ms away). true: the latency is the whole round trip, and the
  // upstream's own time counts inside it (a reply is held until the drawn
  // latency is over, never released before the upstream answered), so that
  // an emulator's cost per request (moto: ~4 ms of Python) does not come on
  // top of the modelled service's.
  bool covers_upstream = false;
  std::mutex rng_mutex;
  std::mt19937_64 rng;
  Model(bench::CapacityLimits limits, double median, double p99, std::uint64_t seed)
      : capacity(limits), median_ms(median), rng(seed) {
    // p99 = median * exp(2.326 sigma): z(0.99) = 2.326.
    if (p99 > median && median > 0) sigma = std::log(p99 / median) / 2.326347874;
  }
  Clock::duration latency() {
    double ms = median_ms;
    if (sigma > 0) {
      std::lock_guard lock(rng_mutex);
      ms = std::lognormal_distribution<double>(std::log(median_ms), sigma)(rng);
    }
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(ms));
  }
};

// Buffered reads from one socket.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  // Up to and including the blank line; false at EOF or on a head too large.
  bool head(std::string& out) {
    for (;;) {
      if (const auto end = buffer_.find("\r\n\r\n"); end != std::string::npos) {
        out = buffer_.substr(0, end + 4);
        buffer_.erase(0, end + 4);
        return true;
      }
      if (buffer_.size() > head_bytes_max || !fill()) return false;
    }
  }
  bool line(std::string& out) {
    for (;;) {
      if (const auto end = buffer_.find("\r\n"); end != std::string::npos) {
        out = buffer_.substr(0, end + 2);
        buffer_.erase(0, end + 2);
        return true;
      }
      if (buffer_.size() > head_bytes_max || !fill()) return false;
    }
  }
  bool exact(std::size_t size, std::string& out) {
    while (buffer_.size() < size) {
      if (!fill()) return false;
    }
    out.append(buffer_, 0, size);
    buffer_.erase(0, size);
    return true;
  }
  void rest(std::string& out) {
    while (fill()) {
    }
    out += buffer_;
    buffer_.clear();
  }

 private:
  bool fill() {
    char chunk[chunk_bytes_max];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  int fd_;
  std::string buffer_;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The value of header `name` (lower case) in `head`, trimmed; "" if absent.
std::string header(const std::string& head, const std::string& name) {
  std::size_t at = head.find("\r\n");
  while (at != std::string::npos && at + 2 < head.size()) {
    const std::size_t next = head.find("\r\n", at + 2);
    if (next == std::string::npos) break;
    const std::string line = head.substr(at + 2, next - at - 2);
    if (const auto colon = line.find(':');
        colon != std::string::npos && lower(line.substr(0, colon)) == name) {
      const auto first = line.find_first_not_of(" \t", colon + 1);
      return first == std::string::npos
                 ? ""
                 : line.substr(first, line.find_last_not_of(" \t") - first + 1);
    }
    at = next;
  }
  return "";
}

// Drops header `name` (lower case) from `head`.
void remove_header(std::string& head, const std::string& name) {
  std::size_t at = head.find("\r\n");
  while (at != std::string::npos && at + 2 < head.size()) {
    const std::size_t next = head.find("\r\n", at + 2);
    if (next == std::string::npos) break;
    const std::string line = head.substr(at + 2, next - at - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == name) {
      head.erase(at, next - at);
      continue;
    }
    at = next;
  }
}

// Reads the body `head` announces, raw (as sent, to forward) and decoded
// (to inspect). no_body: a reply to HEAD, or a 1xx/204/304 status.
bool read_body(Reader& reader, const std::string& head, bool no_body, bool is_reply,
               std::string& raw, std::string& body, bool& until_close) {
  until_close = false;
  if (no_body) return true;
  if (lower(header(head, "transfer-encoding")).find("chunked") != std::string::npos) {
    for (std::size_t i = 0; i < chunks_max; ++i) {
      std::string size_line;
      if (!reader.line(size_line)) return false;
      raw += size_line;
      const std::size_t size = std::strtoull(size_line.c_str(), nullptr, 16);
      if (size > body_bytes_max - body.size()) return false;
      if (size == 0) {
        for (std::size_t t = 0; t < chunks_max; ++t) {  // trailers, then the blank line
          std::string trailer;
          if (!reader.line(trailer)) return false;
          raw += trailer;
          if (trailer == "\r\n") return true;
        }
        return false;
      }
      std::string data;
      if (!reader.exact(size + 2, data)) return false;
      raw += data;
      body.append(data, 0, size);
    }
    return false;
  }
  const std::string length = header(head, "content-length");
  if (!length.empty()) {
    const std::size_t size = std::strtoull(length.c_str(), nullptr, 10);
    if (size > body_bytes_max || !reader.exact(size, raw)) return false;
    body = raw;
    return true;
  }
  if (is_reply) {  // no length: the body runs to the end of the connection
    until_close = true;
    reader.rest(raw);
    body = raw;
  }
  return true;
}

std::string partkey_of(const nlohmann::json& item) {
  if (!item.is_object() || !item.contains(partition_key_name)) return "";
  return item[std::string(partition_key_name)].dump();
}

// The partition a Query reads: the value of the first placeholder in its
// key condition (ours and the seed's name the partition key first).
std::string query_partkey(const nlohmann::json& request) {
  const std::string condition = request.value("KeyConditionExpression", "");
  const auto colon = condition.find(':');
  if (colon == std::string::npos) return "";
  auto end = colon + 1;
  while (end < condition.size() &&
         (std::isalnum(static_cast<unsigned char>(condition[end])) || condition[end] == '_'))
    ++end;
  const auto values = request.value("ExpressionAttributeValues", nlohmann::json::object());
  const std::string placeholder = condition.substr(colon, end - colon);
  return values.contains(placeholder) ? values[placeholder].dump() : "";
}

// What the model decided for one DynamoDB request.
struct Decision {
  bool throttled = false;
  bool read = false;  // charge the reply's size to (table, partkey)
  bool consistent = false;
  std::string table;
  std::string partkey;
};

Decision decide(Model& model, const std::string& operation, const std::string& body) {
  Decision d;
  const nlohmann::json request = nlohmann::json::parse(body, nullptr, false);
  if (request.is_discarded() || !request.is_object()) return d;
  d.table = request.value("TableName", "");
  if (operation == "PutItem") {
    const auto& item = request["Item"];
    d.throttled = !model.capacity.admit_write(
        d.table, partkey_of(item), bench::units(bench::item_bytes(item), bench::write_unit_bytes));
  } else if (operation == "DeleteItem" || operation == "UpdateItem") {
    // The item's size is not in the request: one unit, the least it costs.
    d.throttled = !model.capacity.admit_write(d.table, partkey_of(request["Key"]), 1);
  } else if (operation == "BatchWriteItem" && request.contains("RequestItems")) {
    for (const auto& [table, requests] : request["RequestItems"].items()) {
      for (const auto& r : requests) {
        double units = 1;
        std::string partkey;
        if (r.contains("PutRequest")) {
          const auto& item = r["PutRequest"]["Item"];
          units = bench::units(bench::item_bytes(item), bench::write_unit_bytes);
          partkey = partkey_of(item);
        } else if (r.contains("DeleteRequest")) {
          partkey = partkey_of(r["DeleteRequest"]["Key"]);
        }
        if (!model.capacity.admit_write(table, partkey, units)) d.throttled = true;
      }
    }
  } else if (operation == "GetItem" || operation == "Query") {
    d.read = true;
    d.consistent = request.value("ConsistentRead", false);
    d.partkey = operation == "GetItem" ? partkey_of(request["Key"]) : query_partkey(request);
    d.throttled = !model.capacity.admit_read(d.table, d.partkey);
  }
  return d;
}

void charge_read(Model& model, const Decision& d, const std::string& reply_body) {
  const nlohmann::json reply = nlohmann::json::parse(reply_body, nullptr, false);
  double bytes = 0;
  if (!reply.is_discarded() && reply.is_object()) {
    if (reply.contains("Item")) bytes += bench::item_bytes(reply["Item"]);
    if (reply.contains("Items") && reply["Items"].is_array()) {
      for (const auto& item : reply["Items"]) bytes += bench::item_bytes(item);
    }
  }
  // Eventually consistent reads cost half a unit per 4 KB.
  const double read_units = bench::units(bytes, bench::read_unit_bytes) * (d.consistent ? 1 : 0.5);
  model.capacity.charge_read(d.table, d.partkey, read_units);
}

std::string throttled_reply() {
  const std::string body =
      "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
      "\"message\":\"The level of configured provisioned throughput for the table was exceeded "
      "(prevayler_latency_proxy --model dynamodb)\"}";
  return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\n"
         "x-amzn-RequestId: LATENCY-PROXY-MODEL\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// One client connection, one request at a time: read it whole, delay it,
// answer it here (throttled) or forward it and relay the whole reply.
void serve_http(std::shared_ptr<Connection> c, Model* model) {
  Reader client(c->client);
  Reader upstream(c->upstream);
  for (;;) {
    std::string head;
    if (!client.head(head)) return;
    if (lower(header(head, "expect")) == "100-continue") {
      // Answered here, so that the whole body arrives before it is judged.
      remove_header(head, "expect");
      if (!write_all(c->client, "HTTP/1.1 100 Continue\r\n\r\n", 25)) return;
    }
    std::string raw;
    std::string body;
    bool until_close = false;
    if (!read_body(client, head, false, false, raw, body, until_close)) return;
    const std::string target = header(head, "x-amz-target");
    Decision d;
    if (target.rfind(dynamodb_target_prefix, 0) == 0) {
      d = decide(*model, target.substr(dynamodb_target_prefix.size()), body);
    }
    const Clock::time_point due = Clock::now() + model->latency();
    if (d.throttled || !model->covers_upstream) std::this_thread::sleep_until(due);
    if (d.throttled) {
      const std::string reply = throttled_reply();
      if (!write_all(c->client, reply.data(), reply.size())) return;
      continue;
    }
    if (!write_all(c->upstream, head.data(), head.size()) ||
        !write_all(c->upstream, raw.data(), raw.size())) {
      return;
    }
    const bool head_request = head.rfind("HEAD ", 0) == 0;
    std::string reply_head;
    std::string held;                    // the reply so far, when it waits for `due`
    for (int interim = 0;; ++interim) {  // skip (relay) 1xx replies
      if (interim > 8 || !upstream.head(reply_head)) return;
      if (model->covers_upstream) {
        held += reply_head;
      } else if (!write_all(c->client, reply_head.data(), reply_head.size())) {
        return;
      }
      if (reply_head.size() < 12 || reply_head[9] != '1') break;
    }
    const int status = std::atoi(reply_head.c_str() + 9);
    std::string reply_raw;
    std::string reply_body;
    if (!read_body(upstream, reply_head, head_request || status == 204 || status == 304, true,
                   reply_raw, reply_body, until_close)) {
      return;
    }
    if (model->covers_upstream) {
      std::this_thread::sleep_until(due);  // returns at once when the upstream was slower
      held += reply_raw;
      if (!write_all(c->client, held.data(), held.size())) return;
    } else if (!write_all(c->client, reply_raw.data(), reply_raw.size())) {
      return;
    }
    if (d.read && status == 200) charge_read(*model, d, reply_body);
    if (until_close || lower(header(reply_head, "connection")) == "close") return;
  }
}

// Prints the counters every report_every_s seconds and on SIGUSR1; on
// SIGINT or SIGTERM prints them and ends the process. The signals are
// blocked in every thread, so only this one receives them.
void report_counters(Model* model, double report_every_s, sigset_t signals) {
  for (;;) {
    int signal = 0;
    if (report_every_s > 0) {
      timespec timeout{};
      timeout.tv_sec = static_cast<time_t>(report_every_s);
      timeout.tv_nsec = static_cast<long>((report_every_s - std::floor(report_every_s)) * 1e9);
      signal = ::sigtimedwait(&signals, nullptr, &timeout);
    } else if (::sigwait(&signals, &signal) != 0) {
      continue;
    }
    if (signal < 0 && errno == EINTR) continue;
    model->capacity.print(stdout);
    if (signal == SIGINT || signal == SIGTERM) std::_Exit(0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_text;
  std::string upstream_text;
  double delay_ms = 0;
  std::string model_name;
  double latency_median_ms = 0;
  double latency_p99_ms = 0;
  std::uint64_t seed = 1;
  double report_every_s = 0;
  bool latency_covers_upstream = false;
  bench::CapacityLimits limits;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) die("missing value after " + arg);
    if (arg == "--listen") {
      listen_text = argv[++i];
    } else if (arg == "--upstream") {
      upstream_text = argv[++i];
    } else if (arg == "--delay-ms") {
      delay_ms = std::atof(argv[++i]);
    } else if (arg == "--model") {
      model_name = argv[++i];
      if (model_name != "dynamodb") die("unknown model " + model_name + " (known: dynamodb)");
    } else if (arg == "--latency-median-ms") {
      latency_median_ms = std::atof(argv[++i]);
    } else if (arg == "--latency-p99-ms") {
      latency_p99_ms = std::atof(argv[++i]);
    } else if (arg == "--seed") {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--write-units-per-s") {
      limits.write_units_per_s = std::atof(argv[++i]);
    } else if (arg == "--read-units-per-s") {
      limits.read_units_per_s = std::atof(argv[++i]);
    } else if (arg == "--burst-s") {
      limits.burst_s = std::atof(argv[++i]);
    } else if (arg == "--latency-covers") {
      const std::string covers = argv[++i];
      if (covers != "upstream" && covers != "proxy") {
        die("--latency-covers takes upstream or proxy, not " + covers);
      }
      latency_covers_upstream = covers == "upstream";
    } else if (arg == "--report-every-s") {
      report_every_s = std::atof(argv[++i]);
    } else {
      die("unknown argument " + arg);
    }
  }
  const bool modelled = !model_name.empty();
  if (listen_text.empty() || upstream_text.empty() || delay_ms < 0 || latency_median_ms < 0 ||
      (latency_p99_ms > 0 && latency_p99_ms < latency_median_ms) ||
      (!modelled && (latency_median_ms > 0 || latency_p99_ms > 0 || latency_covers_upstream)) ||
      limits.write_units_per_s <= 0 || limits.read_units_per_s <= 0 || limits.burst_s <= 0) {
    std::fprintf(stderr,
                 "usage: prevayler_latency_proxy --listen [127.0.0.1:]PORT "
                 "--upstream [127.0.0.1:]PORT [--delay-ms D]\n"
                 "       [--model dynamodb [--latency-median-ms M --latency-p99-ms P] [--seed N]\n"
                 "        [--latency-covers proxy|upstream]\n"
                 "        [--write-units-per-s 1000] [--read-units-per-s 3000] [--burst-s 1]\n"
                 "        [--report-every-s S]]\n");
    return 2;
  }
  if (latency_median_ms == 0) latency_median_ms = delay_ms;
  std::unique_ptr<Model> model;
  if (modelled) {
    model = std::make_unique<Model>(limits, latency_median_ms, latency_p99_ms, seed);
    model->covers_upstream = latency_covers_upstream;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGUSR1);
    // Blocked before any thread starts, so every thread inherits the mask.
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread(report_counters, model.get(), report_every_s, signals).detach();
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
  if (modelled) {
    std::printf(
        "listening 127.0.0.1:%u -> 127.0.0.1:%u, model dynamodb: latency median %.3f ms, "
        "p99 %.3f ms (%s), seed %llu; per partition %.6g write units/s, %.6g read units/s, "
        "burst %.6g s\n",
        ntohs(bound.sin_port), upstream.port, latency_median_ms,
        latency_p99_ms > 0 ? latency_p99_ms : latency_median_ms,
        latency_covers_upstream ? "including the upstream's time" : "added to the upstream's time",
        static_cast<unsigned long long>(seed), limits.write_units_per_s, limits.read_units_per_s,
        limits.burst_s);
  } else {
    std::printf("listening 127.0.0.1:%u -> 127.0.0.1:%u, delay %.3f ms\n", ntohs(bound.sin_port),
                upstream.port, delay_ms);
  }
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
    if (model) {
      std::thread(serve_http, c, model.get()).detach();
      continue;
    }
    std::thread(read_client, c, delay).detach();
    std::thread(send_upstream, c).detach();
    std::thread(read_upstream, c).detach();
  }
}
