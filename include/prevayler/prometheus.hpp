// Renders Metrics in the Prometheus text exposition format (version 0.0.4),
// e.g. for node_exporter's textfile collector. No HTTP server: serving the
// text is the application's choice.
#pragma once

#include <string>
#include <string_view>

#include "prevayler/metrics.hpp"

namespace prevayler {

// Every metric is named `<prefix>_<name>` (prefix e.g. "prevayler"; it must
// match [a-zA-Z_:][a-zA-Z0-9_:]*, else ConfigError), with HELP and TYPE
// lines; durations are rendered in seconds, sizes in bytes. docs/metrics.md
// lists them.
std::string prometheus_text(const Metrics& metrics, std::string_view prefix = "prevayler");

}  // namespace prevayler
