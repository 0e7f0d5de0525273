// Internal entry point of the file storage that takes the filesystem seam,
// for fault-injection tests.
#pragma once

#include <memory>

#include "file/file_io.hpp"
#include "prevayler/file_storage.hpp"

namespace prevayler::detail {

std::unique_ptr<Storage> make_file_storage(FileStorageOptions options, std::shared_ptr<FileIo> io);

}  // namespace prevayler::detail
