// An HttpTransport wrapper that injects the failures AWS clients meet in
// production: throttling, 5xx, connection resets, time-outs after the
// server applied a write, damaged response bodies, and latency. Used by the
// tests to prove that retries and idempotency hold up.
//
// Faults come from a scripted queue first (one entry per request, in order),
// then from the seeded RNG with the configured probabilities.
//
// Thread-safety: send() and every other member may be called from many
// threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "aws/http.hpp"

namespace prevayler::aws {

enum class Fault {
  none,              // forward the request unchanged
  throttle,          // answer 400 ThrottlingException (DynamoDB) / 503 SlowDown (S3), not forwarded
  server_error,      // answer 500 InternalServerError / InternalError, not forwarded
  connection_reset,  // throw TransportError(maybe_delivered=false), not forwarded
  timeout_after_apply,  // forward, discard the response, throw TransportError(maybe_delivered=true)
  corrupt_body,         // forward, flip one bit of the response body (headers kept)
};

struct FaultProbabilities {
  double throttle = 0;
  double server_error = 0;
  double connection_reset = 0;
  double timeout_after_apply = 0;
  double corrupt_body = 0;
};

struct FaultInjectionOptions {
  FaultProbabilities probabilities;
  std::uint64_t seed = 1;
  std::chrono::milliseconds latency{0};  // added before every request
};

struct FaultCounters {
  std::uint64_t requests = 0;   // send() calls
  std::uint64_t forwarded = 0;  // requests that reached the inner transport
  std::uint64_t throttles = 0;
  std::uint64_t server_errors = 0;
  std::uint64_t connection_resets = 0;
  std::uint64_t timeouts_after_apply = 0;
  std::uint64_t corrupted_bodies = 0;

  std::uint64_t faults() const noexcept {
    return throttles + server_errors + connection_resets + timeouts_after_apply + corrupted_bodies;
  }
};

class FaultInjectingTransport : public HttpTransport {
 public:
  FaultInjectingTransport(std::shared_ptr<HttpTransport> inner, FaultInjectionOptions options = {});

  HttpResponse send(const HttpRequest& request) override;

  // Faults for the next requests, in order; they take precedence over the
  // random ones.
  void script(std::vector<Fault> faults);
  void set_probabilities(FaultProbabilities probabilities);
  void set_latency(std::chrono::milliseconds latency);
  FaultCounters counters() const;

 private:
  Fault next_fault();

  std::shared_ptr<HttpTransport> inner_;
  mutable std::mutex mutex_;
  FaultInjectionOptions options_;
  std::deque<Fault> script_;
  std::mt19937_64 rng_;
  FaultCounters counters_;
};

}  // namespace prevayler::aws
