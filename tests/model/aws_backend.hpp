// The model test's DynamoDB+S3 backend: every host opens the real AWS
// storage (detail::make_aws_storage) on one fresh table+bucket per seed,
// through a transport of its own: a CrashableTransport (a crash makes every
// later request throw TransportError, and a request on the wire when the
// host crashed loses its response) over a FaultInjectingTransport (the
// seed's throttling, 5xx, resets, time-outs after apply) over `services`.
//
// `services` is the shared endpoint every host talks to: a curl transport
// to the process-wide moto_server by default. To run on the in-process
// simulator, pass it as `services` (see docs/model_test.md).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aws/aws_storage_impl.hpp"
#include "aws/fault_injecting_transport.hpp"
#include "aws/http.hpp"
#include "aws/sim_aws.hpp"
#include "model/backend.hpp"
#include "prevayler/aws_storage.hpp"

namespace prevayler::model {

class CrashableTransport : public aws::HttpTransport {
 public:
  explicit CrashableTransport(std::shared_ptr<aws::HttpTransport> inner)
      : inner_(std::move(inner)) {}
  void crash() { crashed_.store(true); }
  aws::HttpResponse send(const aws::HttpRequest& request) override;

 private:
  std::shared_ptr<aws::HttpTransport> inner_;
  std::atomic<bool> crashed_{false};
};

class AwsBackend : public Backend {
 public:
  // `services`: null means moto (started on first use, shared by the
  // process); the table and bucket are created through it.
  AwsBackend(std::uint64_t seed, aws::FaultProbabilities faults,
             std::shared_ptr<aws::HttpTransport> services = nullptr);
  // On the in-process simulator (its own faults: delays that reorder
  // concurrent requests, 5xx after apply, bad CRCs, unprocessed deletes),
  // with the storage's waits between attempts made no-ops so that a seed
  // takes milliseconds.
  AwsBackend(std::uint64_t seed, aws::FaultProbabilities faults,
             std::shared_ptr<testing::SimAws> sim);
  std::string name() const override { return sim_ ? "aws-sim" : "aws"; }
  std::unique_ptr<Storage> open(int host, const Knobs& knobs) override;
  void crash(int host) override;
  std::unique_ptr<ops::JournalStore> operator_store() override;
  std::unique_ptr<Storage> open_for_check() override;
  std::unique_ptr<Storage> follower_storage() override;
  FaultTally faults() const override;
  std::string describe() const override { return "table " + table_ + ", bucket " + bucket_; }

 private:
  AwsStorageOptions options() const;

  std::uint64_t seed_;
  aws::FaultProbabilities probabilities_;
  std::shared_ptr<aws::HttpTransport> services_;
  std::shared_ptr<testing::SimAws> sim_;
  detail::AwsStorageTestHooks hooks_;
  std::string endpoint_;
  std::string table_;
  std::string bucket_;
  mutable std::mutex mutex_;
  std::vector<std::pair<int, std::shared_ptr<CrashableTransport>>> transports_;
  std::vector<std::shared_ptr<aws::FaultInjectingTransport>> injectors_;
  std::uint64_t crash_cuts_ = 0;
};

}  // namespace prevayler::model
