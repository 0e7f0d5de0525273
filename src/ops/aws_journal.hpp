// The DynamoDB+S3 storage's journal for operators: a read-only
// JournalSource over a journal table and its snapshot object, and a
// JournalDestination that lays a journal down in an empty table and key
// (src/ops/journal_access.hpp). Both get their clients from
// resolve_aws_clients (aws/aws_clients.hpp), as the storage does.
#pragma once

#include <memory>

#include "aws/aws_clients.hpp"
#include "aws/http.hpp"
#include "ops/journal_access.hpp"
#include "prevayler/aws_storage.hpp"

namespace prevayler::ops {

// Uses table, bucket, snapshot_path and what resolves the clients (region,
// endpoints, credentials, time-outs, retries). Reads only: strongly
// consistent Queries and GETs.
// A null `transport` means curl (as the storage's); tests pass a simulator's.
std::unique_ptr<JournalSource> make_aws_journal_source(
    AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport = nullptr,
    const detail::AwsStorageTestHooks& hooks = {});

// check_empty() refuses a destination whose snapshot object exists or
// whose segments 0 or 1 hold an item (every journal the storage wrote has
// its segment 0 sealed at order 1).
std::unique_ptr<JournalDestination> make_aws_journal_destination(
    AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport = nullptr,
    const detail::AwsStorageTestHooks& hooks = {});

// The table, bucket and key as a JournalStore: its source and destination
// above, and the storage's prune (detail::prune_aws_journal).
std::unique_ptr<JournalStore> make_aws_journal_store(
    AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport = nullptr,
    detail::AwsStorageTestHooks hooks = {});

}  // namespace prevayler::ops
