// prevayler-file: the operator command for the file storage.
//   prevayler-file prune --dir PATH [--keep N]   delete snapshots older than
//       the newest N (default 1) and the journal segments only they need
//   prevayler-file list --dir PATH               list snapshots and segments
// Exit status: 0 success, 1 failure, 2 usage error.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "prevayler/file_storage.hpp"

namespace {

constexpr const char* usage_text =
    "usage: prevayler-file prune --dir PATH [--keep N]\n"
    "       prevayler-file list --dir PATH\n"
    "\n"
    "  prune   delete the snapshots older than the newest N (default 1) and the\n"
    "          journal segments only they need; safe while an instance runs\n"
    "  list    list the snapshot and journal files with their sizes\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << usage_text;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << usage_text;
    return 0;
  }
  std::filesystem::path dir;
  unsigned long keep = 1;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--keep" && i + 1 < argc) {
      char* end = nullptr;
      keep = std::strtoul(argv[++i], &end, 10);
      if (*end != '\0' || keep == 0) {
        std::cerr << "prevayler-file: --keep wants a positive number\n";
        return 2;
      }
    } else {
      std::cerr << "prevayler-file: unknown or incomplete option '" << arg << "'\n" << usage_text;
      return 2;
    }
  }
  if (dir.empty() || (command != "prune" && command != "list")) {
    std::cerr << usage_text;
    return 2;
  }
  try {
    if (command == "prune") {
      const auto deleted = prevayler::prune_file_storage(dir, static_cast<std::uint32_t>(keep));
      std::cout << dir.string() << ": deleted " << deleted << " files\n";
    } else {
      for (const auto& item : std::filesystem::directory_iterator(dir)) {
        if (item.is_regular_file()) {
          std::cout << item.path().filename().string() << " " << item.file_size() << "\n";
        }
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "prevayler-file: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
