// A model of DynamoDB's published per-partition limits, for
// prevayler_latency_proxy --model dynamodb (bench/latency_proxy.cpp):
//
//   - at most write_units_per_s (1,000) write units per second per partition,
//     one unit per started KB of each item written;
//   - at most read_units_per_s (3,000) strongly consistent read units per
//     second per partition, one unit per started 4 KB read (a Query: of all
//     the items it returns together; eventually consistent reads cost half);
//   - token buckets that keep up to burst_s seconds of unused capacity (the
//     service keeps up to 300 s; the default here is small so that a short
//     bench meets the limit instead of living on its burst).
//
// A partition is (table, value of the item's partition key): every item of
// one journal segment shares its partkey, so one segment is one partition.
// Thread-safe: every member takes the model's mutex.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace bench {

struct CapacityLimits {
  double write_units_per_s = 1000;
  double read_units_per_s = 3000;
  double burst_s = 1;  // DynamoDB: up to 300
};

inline constexpr double write_unit_bytes = 1024;
inline constexpr double read_unit_bytes = 4096;

// DynamoDB's item size: attribute names plus values (numbers about one byte
// per two digits plus one, binary values decoded from base64).
inline double attribute_value_bytes(const nlohmann::json& value) {
  if (!value.is_object() || value.empty()) return 0;
  const auto& [type, v] = *value.items().begin();
  if (type == "S" && v.is_string())
    return static_cast<double>(v.get_ref<const std::string&>().size());
  if (type == "N" && v.is_string()) {
    const auto& n = v.get_ref<const std::string&>();
    const auto digits =
        std::count_if(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
    return std::ceil(static_cast<double>(digits) / 2) + 1;
  }
  if (type == "B" && v.is_string()) {
    const auto& b = v.get_ref<const std::string&>();
    const auto padding = std::count(b.begin(), b.end(), '=');
    return static_cast<double>(b.size() / 4 * 3) - static_cast<double>(padding);
  }
  if (type == "BOOL" || type == "NULL") return 1;
  double bytes = 3;  // L, M and the sets: a small overhead plus their elements
  if (v.is_array()) {
    for (const auto& e : v)
      bytes += e.is_string() ? static_cast<double>(e.get_ref<const std::string&>().size())
                             : attribute_value_bytes(e) + 1;
  } else if (v.is_object()) {
    for (const auto& [name, e] : v.items())
      bytes += static_cast<double>(name.size()) + attribute_value_bytes(e) + 1;
  }
  return bytes;
}

inline double item_bytes(const nlohmann::json& item) {
  double bytes = 0;
  if (!item.is_object()) return bytes;
  for (const auto& [name, value] : item.items()) {
    bytes += static_cast<double>(name.size()) + attribute_value_bytes(value);
  }
  return bytes;
}

// Units for `bytes`, rounded up, at least one.
inline double units(double bytes, double unit_bytes) {
  return std::max(1.0, std::ceil(bytes / unit_bytes));
}

class CapacityModel {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CapacityModel(CapacityLimits limits) : limits_(limits) {}

  // A write of `write_units` to the partition: false (throttled, nothing
  // taken) when its bucket does not hold that many.
  bool admit_write(const std::string& table, const std::string& partkey, double write_units) {
    std::lock_guard lock(mutex_);
    auto& t = tables_[table];
    auto& p = partition(table, partkey, t);
    const auto now = Clock::now();
    refill(p, now);
    if (p.write_tokens < write_units) {
      ++t.throttled_writes;
      return false;
    }
    p.write_tokens -= write_units;
    t.write_units += write_units;
    ++t.writes;
    count_second(p.write_second, p.write_units_this_second, t.write_peak_units_per_s, write_units,
                 now);
    return true;
  }

  // A read admitted while the partition's read bucket is not in debt; its
  // units are charged by charge_read once the reply tells its size.
  bool admit_read(const std::string& table, const std::string& partkey) {
    std::lock_guard lock(mutex_);
    auto& t = tables_[table];
    auto& p = partition(table, partkey, t);
    refill(p, Clock::now());
    if (p.read_tokens <= 0) {
      ++t.throttled_reads;
      return false;
    }
    return true;
  }

  // May leave the bucket in debt: the next reads wait until it refills.
  void charge_read(const std::string& table, const std::string& partkey, double read_units) {
    std::lock_guard lock(mutex_);
    auto& t = tables_[table];
    auto& p = partition(table, partkey, t);
    const auto now = Clock::now();
    refill(p, now);
    p.read_tokens -= read_units;
    t.read_units += read_units;
    ++t.reads;
    count_second(p.read_second, p.read_units_this_second, t.read_peak_units_per_s, read_units, now);
  }

  // `name value unit` lines, per table and in total (bench/run_all.sh's form).
  void print(std::FILE* out) {
    std::lock_guard lock(mutex_);
    Table total;
    for (const auto& [name, t] : tables_) {
      print_table(out, "model." + name + ".", t);
      total.writes += t.writes;
      total.reads += t.reads;
      total.write_units += t.write_units;
      total.read_units += t.read_units;
      total.throttled_writes += t.throttled_writes;
      total.throttled_reads += t.throttled_reads;
      total.partitions += t.partitions;
      total.write_peak_units_per_s =
          std::max(total.write_peak_units_per_s, t.write_peak_units_per_s);
      total.read_peak_units_per_s = std::max(total.read_peak_units_per_s, t.read_peak_units_per_s);
    }
    print_table(out, "model.total.", total);
    std::fflush(out);
  }

 private:
  struct Partition {
    double write_tokens = 0;
    double read_tokens = 0;
    Clock::time_point refilled;
    std::int64_t write_second = -1;  // whole seconds since the model started
    std::int64_t read_second = -1;
    double write_units_this_second = 0;
    double read_units_this_second = 0;
  };
  struct Table {
    std::uint64_t writes = 0;
    std::uint64_t reads = 0;
    double write_units = 0;
    double read_units = 0;
    std::uint64_t throttled_writes = 0;
    std::uint64_t throttled_reads = 0;
    std::uint64_t partitions = 0;
    double write_peak_units_per_s = 0;  // the busiest partition's busiest second
    double read_peak_units_per_s = 0;
  };

  Partition& partition(const std::string& table, const std::string& partkey, Table& t) {
    auto [it, added] = partitions_.try_emplace(table + '\n' + partkey);
    if (added) {
      // A new partition starts with a full burst, as a fresh table does.
      it->second.write_tokens = limits_.write_units_per_s * limits_.burst_s;
      it->second.read_tokens = limits_.read_units_per_s * limits_.burst_s;
      it->second.refilled = Clock::now();
      ++t.partitions;
    }
    return it->second;
  }

  void refill(Partition& p, Clock::time_point now) const {
    const double s = std::chrono::duration<double>(now - p.refilled).count();
    p.refilled = now;
    p.write_tokens = std::min(limits_.write_units_per_s * limits_.burst_s,
                              p.write_tokens + s * limits_.write_units_per_s);
    p.read_tokens = std::min(limits_.read_units_per_s * limits_.burst_s,
                             p.read_tokens + s * limits_.read_units_per_s);
  }

  void count_second(std::int64_t& second, double& this_second, double& peak, double added,
                    Clock::time_point now) const {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - started_).count();
    if (s != second) {
      second = s;
      this_second = 0;
    }
    this_second += added;
    peak = std::max(peak, this_second);
  }

  static void print_table(std::FILE* out, const std::string& prefix, const Table& t) {
    std::fprintf(out, "%swrite_requests %llu requests\n", prefix.c_str(),
                 static_cast<unsigned long long>(t.writes));
    std::fprintf(out, "%swrite_units %.6g units\n", prefix.c_str(), t.write_units);
    std::fprintf(out, "%sread_requests %llu requests\n", prefix.c_str(),
                 static_cast<unsigned long long>(t.reads));
    std::fprintf(out, "%sread_units %.6g units\n", prefix.c_str(), t.read_units);
    std::fprintf(out, "%sthrottled_writes %llu requests\n", prefix.c_str(),
                 static_cast<unsigned long long>(t.throttled_writes));
    std::fprintf(out, "%sthrottled_reads %llu requests\n", prefix.c_str(),
                 static_cast<unsigned long long>(t.throttled_reads));
    std::fprintf(out, "%spartitions %llu partitions\n", prefix.c_str(),
                 static_cast<unsigned long long>(t.partitions));
    std::fprintf(out, "%spartition_write_peak %.6g units/s\n", prefix.c_str(),
                 t.write_peak_units_per_s);
    std::fprintf(out, "%spartition_read_peak %.6g units/s\n", prefix.c_str(),
                 t.read_peak_units_per_s);
  }

  const CapacityLimits limits_;
  const Clock::time_point started_ = Clock::now();
  std::mutex mutex_;
  std::map<std::string, Table> tables_;
  std::map<std::string, Partition> partitions_;
};

}  // namespace bench
