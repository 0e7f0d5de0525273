// A finding of the model test (seed 248 of a --without-retention run, not
// reproducible by seed because it needs one fault at one moment), made
// deterministic with gates: the old owner's fdatasync fails while a new
// owner takes over. The new owner replays the record that is still in the
// page cache; the old owner then cuts it off and tells its caller the event
// certainly failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <thread>

#include "file/file_storage_impl.hpp"
#include "model/ledger.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::model {
namespace {

// Blocks the first fdatasync after arm() until release(), then fails it.
class GatedSyncIo : public detail::FileIo {
 public:
  void arm() { armed_ = true; }
  std::future<void> entered() { return entered_.get_future(); }
  void release() { release_.set_value(); }
  int fdatasync(int fd) override {
    if (!armed_) return detail::FileIo::fdatasync(fd);
    armed_ = false;
    entered_.set_value();
    release_.get_future().wait();
    errno = EIO;
    return -1;
  }

 private:
  std::atomic<bool> armed_{false};
  std::promise<void> entered_;
  std::promise<void> release_;
};

std::unique_ptr<Storage> open_file(const std::filesystem::path& dir,
                                   std::shared_ptr<detail::FileIo> io) {
  FileStorageOptions options;
  options.directory = dir;
  options.warn = [](const std::string&) {};
  return detail::make_file_storage(options, std::move(io), /*lock_directory=*/false);
}

bool holds(const Ledger& ledger, std::uint64_t id) {
  return std::find(ledger.ids.begin(), ledger.ids.end(), id) != ledger.ids.end();
}

// DISABLED: fails today (I5, then I6). Enable once the file storage reports
// a failed write after which the fence exists as SupersededError (outcome
// unknown) instead of StorageError, and never cuts off bytes a new owner
// may have replayed.
TEST(ModelFindings, DISABLED_FileSyncFailureDuringTakeover) {
  testing::TempDir dir;
  auto io = std::make_shared<GatedSyncIo>();
  LedgerPrevayler a(ledger_options(open_file(dir.path(), io), false, 1));
  a.handle(LedgerEvent{1});

  io->arm();
  auto entered = io->entered();
  std::promise<bool> certainly_failed;
  std::thread writer([&] {
    try {
      a.handle(LedgerEvent{2});
      certainly_failed.set_value(false);
    } catch (const StorageFailedError&) {
      certainly_failed.set_value(false);  // outcome unknown: allowed
    } catch (const StorageError&) {
      certainly_failed.set_value(true);
    }
  });
  entered.wait();  // event 2 is written, its sync is failing
  LedgerPrevayler b(ledger_options(open_file(dir.path(), detail::posix_file_io()), false, 1));
  const bool b_has_2 = holds(*b.state(), 2);
  io->release();
  writer.join();
  const bool told_failed = certainly_failed.get_future().get();

  // I5: an event whose caller was told it certainly failed is never applied.
  EXPECT_FALSE(told_failed && b_has_2) << "the new owner applied event 2, whose caller was told "
                                          "it certainly failed";
  b.handle(LedgerEvent{3});
  const std::vector<std::uint64_t> live = b.state()->ids;
  b.close();
  // I6 and I3: the journal still recovers, to the new owner's live state.
  try {
    LedgerPrevayler c(ledger_options(open_file(dir.path(), detail::posix_file_io()), false, 1));
    EXPECT_EQ(c.state()->ids, live);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "recovery after the takeover failed: " << e.what();
  }
}

}  // namespace
}  // namespace prevayler::model
