// Recovery as of a point in time (include/prevayler/point_in_time.hpp): a
// read-only Storage whose recover() streams, from a JournalSource, the
// newest kept snapshot at or before the point and the entries after it up
// to the point. Storage-independent: make_file_storage_as_of and
// make_aws_storage_as_of give it their storage's source.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ops/journal_access.hpp"
#include "prevayler/point_in_time.hpp"

namespace prevayler::ops {

// `warn` (may be empty: stderr) receives the read's warnings (a torn tail).
// `initial_state_when_no_snapshot`: with no snapshot kept, recovery may
// start from the initial state at segment 0 (the file storage, whose
// retention deletes whole segments only after a snapshot); false where a
// missing snapshot can hide pruned records (the DynamoDB table keeps the
// seals of pruned segments).
std::unique_ptr<Storage> make_point_in_time_storage(std::unique_ptr<JournalSource> source,
                                                    PointInTime point,
                                                    std::function<void(const std::string&)> warn,
                                                    bool initial_state_when_no_snapshot);

}  // namespace prevayler::ops
