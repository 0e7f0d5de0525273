#include "support/sim_fs.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace prevayler::testing {
namespace {

std::string normal(const std::string& path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string parent(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::shared_ptr<SimFileSystem> SimDisk::host() {
  std::lock_guard lock(mutex_);
  return std::make_shared<SimFileSystem>(shared_from_this(), next_host_++);
}

void SimDisk::apply_write(std::string& data, const Write& write) {
  if (write.truncate_to) {
    data.resize(*write.truncate_to);
    return;
  }
  if (data.size() < write.offset + write.bytes.size())
    data.resize(write.offset + write.bytes.size());
  data.replace(write.offset, write.bytes.size(), write.bytes);
}

void SimDisk::apply_name_op(std::map<std::string, std::uint64_t>& names, const NameOp& op) {
  if (!op.from.empty()) {
    auto it = names.find(op.from);
    if (it == names.end()) return;  // what it acted on was lost
    const std::uint64_t inode = it->second;
    names.erase(it);
    if (!op.to.empty()) names[op.to] = inode;
    return;
  }
  names[op.to] = op.inode;
}

void SimDisk::drop_unsynced_writes(int host) {
  for (auto& [inode, node] : inodes_) {
    std::erase_if(node.unsynced, [&](const Write& w) { return host == 0 || w.host == host; });
    node.data = node.durable;
    for (const Write& w : node.unsynced) apply_write(node.data, w);
  }
}

void SimDisk::kill_host(int host) {
  crashed_.insert(host);
  for (auto it = handles_.begin(); it != handles_.end();) {
    if (it->second.host != host) {
      ++it;
      continue;
    }
    std::erase_if(locks_, [&](const auto& l) { return l.second == it->first; });
    it = handles_.erase(it);
  }
}

void SimDisk::crash(int host) {
  std::lock_guard lock(mutex_);
  drop_unsynced_writes(host);
  kill_host(host);
}

void SimDisk::power_loss(const KeepNameOp& keep) {
  std::lock_guard lock(mutex_);
  drop_unsynced_writes(0);
  for (const NameOp& op : unsynced_names_) {
    const NameOpKind kind = op.from.empty() ? NameOpKind::create
                            : op.to.empty() ? NameOpKind::unlink
                                            : NameOpKind::rename;
    const bool kept =
        keep ? keep(kind, op.from.empty() ? op.to : op.from) : crash_keeps_some_names && roll(0.5);
    if (kept) apply_name_op(durable_names_, op);
  }
  unsynced_names_.clear();
  names_ = durable_names_;
  for (int host = 1; host < next_host_; ++host) kill_host(host);
}

void SimDisk::kill(int host) {
  std::lock_guard lock(mutex_);
  kill_host(host);
}

void SimDisk::fail_next(SimOp op, int error, std::string path_part, int count,
                        std::size_t torn_bytes) {
  std::lock_guard lock(mutex_);
  targeted_.push_back({op, error, std::move(path_part), count, torn_bytes});
}

std::optional<SimDisk::Targeted> SimDisk::take_targeted(SimOp op, const std::string& path) {
  for (auto it = targeted_.begin(); it != targeted_.end(); ++it) {
    if (it->op != op || path.find(it->path_part) == std::string::npos) continue;
    Targeted hit = *it;
    if (--it->count == 0) targeted_.erase(it);
    ++counts.targeted;
    return hit;
  }
  return std::nullopt;
}

bool SimDisk::roll(double probability) {
  return probability > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < probability;
}

int SimDisk::call(int host, SimOp op, const std::string& path, const std::function<int()>& body) {
  if (before) before(host, op, path);
  std::lock_guard lock(mutex_);
  if (crashed_.count(host)) return EIO;
  return body();
}

std::optional<std::string> SimDisk::content(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto it = names_.find(normal(path));
  if (it == names_.end()) return std::nullopt;
  return inodes_[it->second].data;
}

bool SimDisk::exists(const std::string& path) {
  std::lock_guard lock(mutex_);
  return names_.count(normal(path)) > 0 || directories_.count(normal(path)) > 0;
}

void SimDisk::remove(const std::string& path) {
  std::lock_guard lock(mutex_);
  names_.erase(normal(path));
  durable_names_.erase(normal(path));
}

std::vector<std::string> SimDisk::names(const std::string& directory) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  const std::string dir = normal(directory);
  for (const auto& [path, inode] : names_) {
    if (parent(path) == dir) out.push_back(path.substr(dir.size() == 1 ? 1 : dir.size() + 1));
  }
  return out;
}

SimDisk::Handle* SimFileSystem::handle(int fd) {
  auto it = disk_->handles_.find(fd);
  if (it == disk_->handles_.end() || it->second.host != host_) return nullptr;
  return &it->second;
}

// Looked up apart from the call, which runs the hook (SimDisk::before)
// without the disk's lock: the hook may run other hosts, whose replay reads
// on a thread of its own (file/replay.hpp).
std::string SimFileSystem::path_of(int fd) {
  std::lock_guard lock(disk_->mutex_);
  const SimDisk::Handle* h = handle(fd);
  return h ? h->path : "";
}

int SimFileSystem::open(const std::string& raw, detail::OpenMode mode, int& fd) {
  const std::string path = normal(raw);
  return disk_->call(host_, SimOp::open, path, [&] {
    using detail::OpenMode;
    if (auto hit = disk_->take_targeted(SimOp::open, path)) return hit->error;
    SimDisk& d = *disk_;
    if (mode == OpenMode::directory) {
      if (!d.directories_.count(path)) return d.names_.count(path) ? ENOTDIR : ENOENT;
      fd = d.next_fd_++;
      d.handles_[fd] = {host_, 0, path};
      return 0;
    }
    if (!d.directories_.count(parent(path))) return ENOENT;
    if (d.directories_.count(path)) return EISDIR;
    auto it = d.names_.find(path);
    const bool creates = mode == OpenMode::create_exclusive || mode == OpenMode::create_or_open ||
                         mode == OpenMode::create_or_truncate;
    if (it != d.names_.end() && mode == OpenMode::create_exclusive) return EEXIST;
    if (it == d.names_.end()) {
      if (!creates) return ENOENT;
      const std::uint64_t inode = d.next_inode_++;
      d.inodes_[inode];
      d.unsynced_names_.push_back({host_, parent(path), "", path, inode});
      it = d.names_.emplace(path, inode).first;
    } else if (mode == OpenMode::create_or_truncate) {
      d.inodes_[it->second].unsynced.push_back({host_, 0, "", 0});
      d.inodes_[it->second].data.clear();
    }
    fd = d.next_fd_++;
    d.handles_[fd] = {host_, it->second, path};
    return 0;
  });
}

void SimFileSystem::close(int fd) {
  std::lock_guard lock(disk_->mutex_);
  std::erase_if(disk_->locks_, [&](const auto& l) { return l.second == fd; });
  disk_->handles_.erase(fd);
}

int SimFileSystem::pread(int fd, char* data, std::size_t size, std::uint64_t offset,
                         std::size_t& done) {
  const std::string path = path_of(fd);
  return disk_->call(host_, SimOp::pread, path, [&] {
    SimDisk::Handle* h = handle(fd);
    if (!h || h->inode == 0) return EBADF;
    if (auto hit = disk_->take_targeted(SimOp::pread, path)) return hit->error;
    if (disk_->roll(disk_->rates.pread_failure)) {
      ++disk_->counts.pread_failure;
      return EIO;
    }
    const std::string& bytes = disk_->inodes_[h->inode].data;
    done = offset >= bytes.size() ? 0 : std::min<std::size_t>(size, bytes.size() - offset);
    if (done > 0) bytes.copy(data, done, offset);
    return 0;
  });
}

int SimFileSystem::pwrite(int fd, const char* data, std::size_t size, std::uint64_t offset,
                          std::size_t& done) {
  const std::string path = path_of(fd);
  return disk_->call(host_, SimOp::pwrite, path, [&] {
    SimDisk::Handle* h = handle(fd);
    done = 0;
    if (!h || h->inode == 0) return EBADF;
    SimDisk& d = *disk_;
    SimDisk::Inode& node = d.inodes_[h->inode];
    auto land = [&](std::size_t n) {
      SimDisk::Write w{host_, offset, std::string(data, n), std::nullopt};
      SimDisk::apply_write(node.data, w);
      node.modified_ms = d.clock_ms_;
      node.unsynced.push_back(std::move(w));
    };
    if (auto hit = d.take_targeted(SimOp::pwrite, path)) {
      land(std::min(hit->torn_bytes, size));
      return hit->error;
    }
    if (d.roll(d.rates.pwrite_eio)) return ++d.counts.pwrite_eio, EIO;
    if (d.roll(d.rates.pwrite_enospc)) return ++d.counts.pwrite_enospc, ENOSPC;
    if (size > 1 && d.roll(d.rates.torn_write)) {
      ++d.counts.torn_write;
      land(std::uniform_int_distribution<std::size_t>(1, size - 1)(d.rng_));
      return EIO;
    }
    land(size);
    done = size;
    return 0;
  });
}

int SimFileSystem::pwritev(int fd, const std::string_view* pieces, std::size_t count,
                           std::uint64_t offset, std::size_t& done) {
  std::string gathered;
  for (std::size_t i = 0; i < count; ++i) gathered.append(pieces[i]);
  return pwrite(fd, gathered.data(), gathered.size(), offset, done);
}

int SimFileSystem::pwrite_direct(int fd, const char* data, std::size_t size, std::uint64_t offset,
                                 std::size_t& done) {
  constexpr std::uint64_t block = detail::direct_write_alignment_bytes;
  if (reinterpret_cast<std::uintptr_t>(data) % block != 0 || size % block != 0 ||
      offset % block != 0) {
    std::fprintf(stderr, "SimFileSystem: misaligned direct write of %zu bytes at offset %llu\n",
                 size, static_cast<unsigned long long>(offset));
    std::abort();
  }
  {
    std::lock_guard lock(disk_->mutex_);
    ++disk_->counts.direct_writes;
  }
  return pwrite(fd, data, size, offset, done);
}

int SimFileSystem::sync(int fd, SimOp op) {
  const std::string path = path_of(fd);
  return disk_->call(host_, op, path, [&] {
    SimDisk::Handle* h = handle(fd);
    if (!h) return EBADF;
    SimDisk& d = *disk_;
    int error = 0;
    bool persisted = true;
    if (auto hit = d.take_targeted(op, path)) {
      error = hit->error;
      persisted = hit->torn_bytes > 0;
    } else if (d.roll(d.rates.sync_failure)) {
      ++d.counts.sync_failure;
      error = EIO;
      persisted = d.roll(0.5);
    }
    if (!persisted) return error;
    if (h->inode != 0) {
      SimDisk::Inode& node = d.inodes_[h->inode];
      node.durable = node.data;
      node.unsynced.clear();
      return error;
    }
    // A directory: its current entries become durable.
    std::erase_if(d.durable_names_, [&](const auto& e) { return parent(e.first) == h->path; });
    for (const auto& [name, inode] : d.names_) {
      if (parent(name) == h->path) d.durable_names_[name] = inode;
    }
    std::erase_if(d.unsynced_names_,
                  [&](const SimDisk::NameOp& n) { return n.directory == h->path; });
    return error;
  });
}

int SimFileSystem::fsync(int fd) { return sync(fd, SimOp::fsync); }
int SimFileSystem::fdatasync(int fd) { return sync(fd, SimOp::fdatasync); }

int SimFileSystem::ftruncate(int fd, std::uint64_t size) {
  return disk_->call(host_, SimOp::ftruncate, path_of(fd), [&] {
    SimDisk::Handle* h = handle(fd);
    if (!h || h->inode == 0) return EBADF;
    SimDisk::Inode& node = disk_->inodes_[h->inode];
    SimDisk::Write w{host_, 0, "", size};
    SimDisk::apply_write(node.data, w);
    node.modified_ms = disk_->clock_ms_;
    node.unsynced.push_back(w);
    return 0;
  });
}

int SimFileSystem::preallocate(int fd, std::uint64_t offset, std::uint64_t size) {
  const std::string path = path_of(fd);
  return disk_->call(host_, SimOp::preallocate, path, [&] {
    SimDisk::Handle* h = handle(fd);
    if (!h || h->inode == 0) return EBADF;
    SimDisk& d = *disk_;
    SimDisk::Inode& node = d.inodes_[h->inode];
    auto land = [&](std::uint64_t n) {
      SimDisk::Write w{host_, offset, std::string(static_cast<std::size_t>(n), '\0'), std::nullopt};
      SimDisk::apply_write(node.data, w);
      node.modified_ms = d.clock_ms_;
      node.unsynced.push_back(std::move(w));
    };
    if (auto hit = d.take_targeted(SimOp::preallocate, path)) {
      land(std::min<std::uint64_t>(hit->torn_bytes, size));
      return hit->error;
    }
    if (size > 1 && d.roll(d.rates.pwrite_enospc)) {
      ++d.counts.pwrite_enospc;
      land(std::uniform_int_distribution<std::uint64_t>(1, size - 1)(d.rng_));
      return ENOSPC;
    }
    land(size);
    return 0;
  });
}

int SimFileSystem::fstat(int fd, detail::FileStat& st) {
  std::lock_guard lock(disk_->mutex_);
  if (disk_->crashed_.count(host_)) return EIO;
  SimDisk::Handle* h = handle(fd);
  if (!h) return EBADF;
  st = {};
  st.directory = h->inode == 0;
  st.identity = {1, h->inode};
  if (h->inode != 0) {
    st.size_bytes = disk_->inodes_[h->inode].data.size();
    st.modified_ms = disk_->inodes_[h->inode].modified_ms;
  }
  return 0;
}

int SimFileSystem::stat(const std::string& raw, detail::FileStat& st) {
  const std::string path = normal(raw);
  return disk_->call(host_, SimOp::stat, path, [&] {
    if (auto hit = disk_->take_targeted(SimOp::stat, path)) return hit->error;
    st = {};
    if (disk_->directories_.count(path)) {
      st.directory = true;
      return 0;
    }
    auto it = disk_->names_.find(path);
    if (it == disk_->names_.end()) return ENOENT;
    st.identity = {1, it->second};
    st.size_bytes = disk_->inodes_[it->second].data.size();
    st.modified_ms = disk_->inodes_[it->second].modified_ms;
    return 0;
  });
}

int SimFileSystem::rename(const std::string& raw_from, const std::string& raw_to) {
  const std::string from = normal(raw_from), to = normal(raw_to);
  return disk_->call(host_, SimOp::rename, from, [&] {
    SimDisk& d = *disk_;
    if (auto hit = d.take_targeted(SimOp::rename, from)) return hit->error;
    if (d.roll(d.rates.rename_failure)) return ++d.counts.rename_failure, EIO;
    if (!d.names_.count(from)) return ENOENT;
    SimDisk::NameOp op{host_, parent(from), from, to, 0};
    d.apply_name_op(d.names_, op);
    d.unsynced_names_.push_back(op);
    return 0;
  });
}

int SimFileSystem::unlink(const std::string& raw) {
  const std::string path = normal(raw);
  return disk_->call(host_, SimOp::unlink, path, [&] {
    SimDisk& d = *disk_;
    if (auto hit = d.take_targeted(SimOp::unlink, path)) return hit->error;
    if (!d.names_.count(path)) return ENOENT;
    SimDisk::NameOp op{host_, parent(path), path, "", 0};
    d.apply_name_op(d.names_, op);
    d.unsynced_names_.push_back(op);
    return 0;
  });
}

int SimFileSystem::mkdir(const std::string& raw) {
  const std::string path = normal(raw);
  return disk_->call(host_, SimOp::open, path, [&] {
    SimDisk& d = *disk_;
    if (d.directories_.count(path) || d.names_.count(path)) return EEXIST;
    if (!d.directories_.count(parent(path))) return ENOENT;
    d.directories_.insert(path);
    return 0;
  });
}

int SimFileSystem::list(const std::string& raw, std::vector<std::string>& names) {
  const std::string dir = normal(raw);
  return disk_->call(host_, SimOp::list, dir, [&] {
    if (auto hit = disk_->take_targeted(SimOp::list, dir)) return hit->error;
    if (!disk_->directories_.count(dir)) return ENOENT;
    names.clear();
    for (const auto& [path, inode] : disk_->names_) {
      if (parent(path) == dir) names.push_back(path.substr(dir.size() == 1 ? 1 : dir.size() + 1));
    }
    return 0;
  });
}

int SimFileSystem::lock(int fd) {
  std::lock_guard lock(disk_->mutex_);
  if (disk_->crashed_.count(host_)) return EIO;
  SimDisk::Handle* h = handle(fd);
  if (!h || h->inode == 0) return EBADF;
  auto it = disk_->locks_.find(h->inode);
  if (it != disk_->locks_.end() && it->second != fd) {
    auto holder = disk_->handles_.find(it->second);
    if (holder != disk_->handles_.end() && holder->second.host == host_) return EWOULDBLOCK;
  }
  disk_->locks_[h->inode] = fd;
  return 0;
}

}  // namespace prevayler::testing
