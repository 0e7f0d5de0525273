#include "aws/fault_injecting_transport.hpp"

#include <stdexcept>
#include <thread>
#include <utility>

namespace prevayler::aws {
namespace {

// DynamoDB requests carry X-Amz-Target; everything else is answered in the
// S3 shape.
bool is_dynamodb(const HttpRequest& request) {
  for (const auto& [name, value] : request.headers)
    if (iequals(name, "X-Amz-Target")) return true;
  return false;
}

HttpResponse dynamodb_error(int status, const std::string& code, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/x-amz-json-1.0"},
               {"x-amzn-RequestId", "FAULT-INJECTED"}};
  r.body = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#" + code + "\",\"message\":\"" +
           message + "\"}";
  return r;
}

HttpResponse s3_error(int status, const std::string& code, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/xml"}, {"x-amz-request-id", "FAULT-INJECTED"}};
  r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" +
           message + "</Message><RequestId>FAULT-INJECTED</RequestId></Error>";
  return r;
}

}  // namespace

FaultInjectingTransport::FaultInjectingTransport(std::shared_ptr<HttpTransport> inner,
                                                 FaultInjectionOptions options)
    : inner_(std::move(inner)), options_(options), rng_(options.seed) {
  if (!inner_) throw std::invalid_argument("FaultInjectingTransport: no inner transport");
}

void FaultInjectingTransport::script(std::vector<Fault> faults) {
  std::lock_guard lock(mutex_);
  script_.insert(script_.end(), faults.begin(), faults.end());
}

void FaultInjectingTransport::set_probabilities(FaultProbabilities probabilities) {
  std::lock_guard lock(mutex_);
  options_.probabilities = probabilities;
}

void FaultInjectingTransport::set_latency(std::chrono::milliseconds latency) {
  std::lock_guard lock(mutex_);
  options_.latency = latency;
}

FaultCounters FaultInjectingTransport::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

Fault FaultInjectingTransport::next_fault() {
  // Called with mutex_ held.
  ++counters_.requests;
  if (!script_.empty()) {
    Fault f = script_.front();
    script_.pop_front();
    return f;
  }
  // One uniform draw split into bands, so the probabilities add up.
  const FaultProbabilities& p = options_.probabilities;
  double x = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  if ((x -= p.throttle) < 0) return Fault::throttle;
  if ((x -= p.server_error) < 0) return Fault::server_error;
  if ((x -= p.connection_reset) < 0) return Fault::connection_reset;
  if ((x -= p.timeout_after_apply) < 0) return Fault::timeout_after_apply;
  if ((x -= p.corrupt_body) < 0) return Fault::corrupt_body;
  return Fault::none;
}

HttpResponse FaultInjectingTransport::send(const HttpRequest& request) {
  Fault fault;
  std::chrono::milliseconds latency;
  {
    std::lock_guard lock(mutex_);
    fault = next_fault();
    latency = options_.latency;
    switch (fault) {
      case Fault::none:
        break;
      case Fault::throttle:
        ++counters_.throttles;
        break;
      case Fault::server_error:
        ++counters_.server_errors;
        break;
      case Fault::connection_reset:
        ++counters_.connection_resets;
        break;
      case Fault::timeout_after_apply:
        ++counters_.timeouts_after_apply;
        break;
      case Fault::corrupt_body:
        ++counters_.corrupted_bodies;
        break;
    }
    if (fault == Fault::none || fault == Fault::timeout_after_apply || fault == Fault::corrupt_body)
      ++counters_.forwarded;
  }
  if (latency.count() > 0) std::this_thread::sleep_for(latency);

  const bool dynamodb = is_dynamodb(request);
  switch (fault) {
    case Fault::throttle:
      return dynamodb ? dynamodb_error(400, "ThrottlingException",
                                       "Rate of requests exceeds the allowed throughput.")
                      : s3_error(503, "SlowDown", "Please reduce your request rate.");
    case Fault::server_error:
      return dynamodb ? dynamodb_error(500, "InternalServerError", "Internal server error")
                      : s3_error(500, "InternalError",
                                 "We encountered an internal error. Please try again.");
    case Fault::connection_reset:
      throw TransportError(
          "connection reset by peer (injected) for " + request.method + " " + request.url, false);
    case Fault::timeout_after_apply:
      inner_->send(request);  // the server applies it; the client never hears back
      throw TransportError("request timed out after it was sent (injected) for " + request.method +
                               " " + request.url,
                           true);
    case Fault::corrupt_body: {
      HttpResponse r = inner_->send(request);
      if (r.body.empty()) {
        r.body.push_back(0x01);  // damage an empty body by making it non-empty
      } else {
        r.body[r.body.size() / 2] ^= 0x01;
      }
      return r;
    }
    case Fault::none:
      break;
  }
  return inner_->send(request);
}

}  // namespace prevayler::aws
