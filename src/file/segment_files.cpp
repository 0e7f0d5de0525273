#include "file/segment_files.hpp"

#include <cerrno>

#include "core/container_header.hpp"
#include "core/formats.hpp"
#include "file/naming.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// Parent directories created at most, so a bad path cannot loop.
constexpr int directory_depth_max = 64;

void create_directories(FileSystem& fs, const std::string& path, int depth) {
  if (path.empty() || fs.exists(path)) return;
  if (depth == directory_depth_max) {
    throw StorageError("cannot create directory " + path + ": nested too deep");
  }
  const auto slash = path.find_last_of('/', path.size() > 1 ? path.size() - 2 : 0);
  if (slash != std::string::npos && slash > 0) {
    create_directories(fs, path.substr(0, slash), depth + 1);
  }
  const int error = fs.mkdir(path);
  if (error != 0 && error != EEXIST) {
    throw StorageError("cannot create directory " + path + ": " + errno_text(error) +
                       "; check the path and its permissions");
  }
}

}  // namespace

void Directory::open(bool create) {
  FileStat st;
  const int error = fs_.stat(path_, st);
  if (error == ENOENT || error == ENOTDIR) {
    if (!create) {
      throw StorageError("directory " + path_ +
                         " does not exist; create it, or set create_directory");
    }
    create_directories(fs_, path_, 0);
  } else if (error != 0) {
    throw StorageError("cannot open directory " + path_ + ": " + errno_text(error));
  } else if (!st.directory) {
    throw StorageError(path_ + " is not a directory; choose another path");
  }
  if (int e = open_file(fs_, path_, OpenMode::directory, fd_)) {
    throw StorageError("cannot open directory " + path_ + ": " + errno_text(e));
  }
}

void Directory::sync() {
  if (int error = fs_.fsync(fd_.get())) {
    throw StorageError("cannot sync directory " + path_ + ": " + errno_text(error));
  }
}

std::string Directory::file(const std::string& name) const { return path_in(path_, name); }

std::string SegmentFiles::path(std::uint64_t id) const { return dir_.file(segment_name(id)); }

bool SegmentFiles::create(std::uint64_t id, File& file) {
  const std::string name = path(id);
  if (int error = open_file(dir_.fs(), name, OpenMode::create_exclusive, file)) {
    if (error == EEXIST) return false;
    throw StorageError("cannot create journal file " + name + ": " + write_failure_text(error));
  }
  const std::string header = make_container_header(segment_magic, segment_format_version, id);
  if (int error = write_fully(dir_.fs(), file.get(), header, 0)) {
    throw StorageError("cannot create journal file " + name + ": " + write_failure_text(error));
  }
  return true;
}

std::uint64_t SegmentFiles::finish(File& file, std::uint64_t id, std::uint64_t writer_id,
                                   const std::optional<StartRecord>& start) {
  const std::string name = path(id);
  std::uint64_t size = segment_header_bytes;
  if (start) {
    const std::string record = make_start_record(writer_id, *start);
    if (int error = write_fully(dir_.fs(), file.get(), record, size)) {
      throw StorageError("cannot write journal file " + name + ": " + write_failure_text(error));
    }
    size += record.size();
  }
  // Durable before anything is appended: the start record decides where
  // the previous segment ends, for every later recovery.
  if (int error = dir_.fs().fsync(file.get())) {
    throw StorageError("cannot sync journal file " + name + ": " + errno_text(error));
  }
  dir_.sync();
  return size;
}

OwnershipCheck SegmentFiles::check_ownership(std::uint64_t id, int fd, bool successor_is_ours) {
  FileSystem& fs = dir_.fs();
  const std::string next = path(id + 1);
  FileStat st;
  int error = successor_is_ours ? ENOENT : fs.stat_without_times(next, st);
  if (error == 0) {
    return {Ownership::superseded, "another instance took over the journal in " + dir_.path() +
                                       " (it created " + next + ")"};
  }
  if (error != ENOENT) {
    return {Ownership::unknown, "cannot check for " + next + ": " + errno_text(error)};
  }
  FileStat mine;
  if ((error = fs.fstat_without_times(fd, mine)) != 0) {
    return {Ownership::unknown, "cannot stat " + path(id) + ": " + errno_text(error)};
  }
  error = fs.stat_without_times(path(id), st);
  if (error == ENOENT || (error == 0 && st.identity != mine.identity)) {
    return {Ownership::superseded,
            path(id) + " was deleted or replaced: another instance took over the journal in " +
                dir_.path() + " and retention removed the segments it no longer needs"};
  }
  if (error != 0) {
    return {Ownership::unknown, "cannot stat " + path(id) + ": " + errno_text(error)};
  }
  return {};
}

}  // namespace prevayler::detail
