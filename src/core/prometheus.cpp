// Prometheus text exposition format, version 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/
#include "prevayler/prometheus.hpp"

#include <cstdio>
#include <string>

#include "prevayler/error.hpp"

namespace prevayler {

namespace {

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// A label value: backslash, double quote and newline escaped.
std::string escape_label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// 15 significant digits: exact for microsecond sums up to 10^9 seconds, and
// without the binary noise of %.17g (0.011903, not 0.011902999999999999).
std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.15g", value);
  return text;
}

class Writer {
 public:
  explicit Writer(std::string_view prefix) : prefix_(prefix) {}

  void header(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP " + full(name) + " " + std::string(help) + "\n";
    out_ += "# TYPE " + full(name) + " " + std::string(type) + "\n";
  }

  void sample(std::string_view name, std::string_view labels, const std::string& value) {
    out_ += full(name);
    if (!labels.empty()) out_ += "{" + std::string(labels) + "}";
    out_ += " " + value + "\n";
  }

  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    header(name, "counter", help);
    sample(name, "", std::to_string(value));
  }

  void gauge(std::string_view name, std::string_view help, std::uint64_t value) {
    header(name, "gauge", help);
    sample(name, "", std::to_string(value));
  }

  // `scale` converts the recorded unit to the rendered one (1e-6: us to s).
  void histogram(std::string_view name, std::string_view help, const Histogram& h, double scale) {
    header(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i + 1 < Histogram::bucket_count; ++i) {
      cumulative += h.buckets[i];
      const double bound = static_cast<double>(Histogram::upper_bound(i)) * scale;
      sample(bucket, "le=\"" + number(bound) + "\"", std::to_string(cumulative));
    }
    cumulative += h.buckets[Histogram::bucket_count - 1];
    sample(bucket, "le=\"+Inf\"", std::to_string(cumulative));
    sample(std::string(name) + "_sum", "", number(static_cast<double>(h.sum) * scale));
    sample(std::string(name) + "_count", "", std::to_string(h.count));
  }

  std::string take() { return std::move(out_); }

 private:
  std::string full(std::string_view name) const { return prefix_ + "_" + std::string(name); }

  std::string prefix_;
  std::string out_;
};

constexpr double microseconds_to_seconds = 1e-6;
constexpr double milliseconds_to_seconds = 1e-3;

// `service="..."`, or nothing for a storage that names no service.
std::string service_label(std::string_view service) {
  return service.empty() ? std::string() : "service=\"" + escape_label(service) + "\"";
}

// `service="...",reason="..."` (the service left out when empty).
std::string reason_labels(const StorageCounters::ReasonCount& r) {
  const std::string service = service_label(r.service);
  return (service.empty() ? "" : service + ",") + "reason=\"" + escape_label(r.reason) + "\"";
}

}  // namespace

std::string prometheus_text(const Metrics& m, std::string_view prefix) {
  if (!valid_name(prefix)) {
    throw ConfigError("prometheus_text: prefix '" + std::string(prefix) +
                      "' is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  Writer w(prefix);
  w.counter("events_total", "Events made durable by this instance.", m.stats.events_journaled);
  w.counter("journal_writes_total", "Journal writes (group commits) made durable.",
            m.stats.journal_writes);
  w.counter("journal_bytes_written_total",
            "Bytes of journal entries made durable (before framing and compression).",
            m.bytes_written);
  w.counter("journal_writes_failed_total", "Journal writes that failed.", m.failed_writes);
  w.counter("events_unchanged_total", "Events not journaled because they left the state unchanged.",
            m.events_unchanged);
  w.counter("snapshots_total", "Snapshots made durable.", m.snapshots_written);
  w.counter("snapshots_failed_total", "Snapshots that failed or were refused.", m.snapshots_failed);
  w.counter("automatic_snapshots_total", "Automatic snapshots made durable.",
            m.automatic_snapshots_written);
  w.counter("automatic_snapshots_failed_total", "Automatic snapshots that failed.",
            m.automatic_snapshots_failed);
  w.counter("storage_throttled_total",
            "Attempts the storage's service answered by throttling, retried or not.",
            m.storage.throttled);
  w.header("storage_retries_total", "counter",
           "Failed attempts the storage retried, by service and reason.");
  for (const auto& r : m.storage.retries_by_reason) {
    w.sample("storage_retries_total", reason_labels(r), std::to_string(r.count));
  }
  w.header("storage_retries_exhausted_total", "counter",
           "Requests that failed after their retries ran out, by service and last reason.");
  for (const auto& r : m.storage.retries_exhausted_by_reason) {
    w.sample("storage_retries_exhausted_total", reason_labels(r), std::to_string(r.count));
  }
  w.header("storage_retry_backoff_seconds_total", "counter",
           "Time the storage waited between attempts, by service.");
  for (const auto& [service, ms] : m.storage.backoff_ms_by_service) {
    w.sample("storage_retry_backoff_seconds_total", service_label(service),
             number(static_cast<double>(ms) * milliseconds_to_seconds));
  }
  w.gauge("recovery_events_replayed", "Events the recovery at open replayed after its snapshot.",
          m.stats.events_replayed);
  w.gauge("recovery_snapshot_id", "The snapshot the recovery at open started from (0: none).",
          m.stats.snapshot_id);
  w.gauge("pending_bytes", "Bytes of accepted events not yet durable.", m.pending_bytes);
  w.gauge("writes_in_flight", "Journal writes started and not yet acknowledged.",
          m.writes_in_flight);
  w.gauge("events_since_snapshot", "Events made durable since the last snapshot's cut.",
          m.events_since_snapshot);
  w.gauge("journal_bytes_since_snapshot",
          "Bytes of journal entries made durable since the last snapshot's cut.",
          m.journal_bytes_since_snapshot);
  w.gauge("writes_in_flight_allowed", "Journal writes the instance allows in flight now.",
          m.stats.writes_in_flight_allowed);
  w.histogram("handle_latency_seconds", "Time from handle()'s call to its return.",
              m.handle_latency_us, microseconds_to_seconds);
  w.histogram("journal_write_latency_seconds", "Time one journal write took in the storage.",
              m.journal_write_latency_us, microseconds_to_seconds);
  w.histogram("events_per_write", "Events in each journal write (group commit size).",
              m.events_per_write, 1.0);
  w.histogram("snapshot_duration_seconds", "Time to write one snapshot.", m.snapshot_duration_us,
              microseconds_to_seconds);
  w.histogram("recovery_duration_seconds", "Time the recovery at open took.",
              m.recovery_duration_us, microseconds_to_seconds);
  return w.take();
}

}  // namespace prevayler
