// The DynamoDB+S3 storage's journal for operators: a read-only
// JournalSource over a journal table and its snapshot object, and a
// JournalDestination that lays a journal down in an empty table and key
// (src/ops/journal_access.hpp). Both get their clients from
// resolve_aws_clients (aws/aws_clients.hpp), as the storage does.
#pragma once

#include <memory>

#include "ops/journal_access.hpp"
#include "prevayler/aws_storage.hpp"

namespace prevayler::ops {

// Uses table, bucket, snapshot_path and what resolves the clients (region,
// endpoints, credentials, time-outs, retries). Reads only: strongly
// consistent Queries and GETs.
std::unique_ptr<JournalSource> make_aws_journal_source(AwsStorageOptions options);

// check_empty() refuses a destination whose snapshot object exists or
// whose segments 0 or 1 hold an item (every journal the storage wrote has
// its segment 0 sealed at order 1).
std::unique_ptr<JournalDestination> make_aws_journal_destination(AwsStorageOptions options);

}  // namespace prevayler::ops
