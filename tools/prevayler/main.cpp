// prevayler: the operator command for every storage of prevayler-cpp.
//
//   prevayler setup|check   --table T --bucket B         (AWS builds)
//   prevayler inspect [--json] [--key-file ID=PATH]...  STORAGE
//   prevayler verify [--json] [--key-file ID=PATH]...   STORAGE
//   prevayler dump [--json] [--from POS] [--until POS|TIME] [--key-file ID=PATH]... STORAGE
//   prevayler copy [--all] STORAGE (--to-dir PATH | --to-aws --to-table T --to-bucket B)
//   prevayler prune [--keep N] [--keep-months M] STORAGE
// where STORAGE is `--dir PATH` or `--aws --table T --bucket B
// [--snapshot-path K]`. Exit status: 0 success (verify: clean), 1 a problem
// found or a failure, 2 a usage error. Errors go to stderr. Docs:
// docs/operations.md.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <optional>

#include "prevayler/error.hpp"
#include "tool.hpp"

namespace prevayler::tool {
namespace {

constexpr const char* description =
    "The operator command of prevayler-cpp: inspect, verify, dump, copy and prune a journal "
    "in a directory (--dir) or in DynamoDB+S3 (--aws). Region, endpoint and credentials come "
    "from the standard AWS configuration (AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE, the "
    "credentials chain). Exit status: 0 success, 1 a problem found or a failure, 2 a usage "
    "error. See docs/operations.md.";

// Empty values are mistakes (`--table=`), never a choice.
const CLI::Validator non_empty(
    [](std::string& value) { return value.empty() ? std::string("needs a non-empty value") : ""; },
    "", "NonEmpty");

void add_aws_flags(CLI::App& app, StorageFlags& flags, const std::string& prefix,
                   bool with_switch) {
#ifdef PREVAYLER_WITH_AWS
  if (with_switch) {
    app.add_flag("--" + prefix + "aws", flags.aws, "the journal in DynamoDB, the snapshot in S3");
  }
  app.add_option("--" + prefix + "table", flags.table, "DynamoDB journal table")->check(non_empty);
  app.add_option("--" + prefix + "bucket", flags.bucket, "S3 bucket of the snapshot")
      ->check(non_empty);
  app.add_option("--" + prefix + "snapshot-path", flags.snapshot_path,
                 "S3 key of the snapshot (default snapshot)")
      ->check(non_empty);
  if (prefix.empty()) {
    app.add_option("--region", flags.region, "instead of AWS_REGION / the profile's region")
        ->check(non_empty);
    app.add_option("--endpoint", flags.endpoint,
                   "for both services, instead of AWS_ENDPOINT_URL (moto, LocalStack)")
        ->check(non_empty);
  }
#else
  (void)app;
  (void)flags;
  (void)prefix;
  (void)with_switch;
#endif
}

void add_storage_flags(CLI::App& app, StorageFlags& flags) {
  app.add_option("--dir", flags.dir, "directory of the file storage")->check(non_empty);
  add_aws_flags(app, flags, "", true);
}

// The read-only subcommands open encrypted data with these keys.
void add_key_flag(CLI::App& app, StorageFlags& flags) {
  app.add_option("--key-file", flags.key_files,
                 "KEY_ID=PATH: a key of an encrypted journal, 32 bytes raw or 64 hex digits in "
                 "PATH (repeat for each key id; docs/encryption.md)")
      ->check(non_empty)
      ->take_all();
}

// What the command line fills in.
struct Settings {
  StorageFlags flags;
  StorageFlags to;  // copy's destination
  InspectOptions inspect;
  VerifyOptions verify;
  DumpOptions dump;
  CopyOptions copy;
  std::uint32_t keep = 1;         // prune
  std::uint32_t keep_months = 0;  // prune
};

struct Subcommands {
  CLI::App* help = nullptr;
  CLI::App* setup = nullptr;  // AWS builds only
  CLI::App* check = nullptr;  // AWS builds only
  CLI::App* inspect = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* dump = nullptr;
  CLI::App* copy = nullptr;
  CLI::App* prune = nullptr;
};

void add_aws_subcommands(CLI::App& app, StorageFlags& flags, Subcommands& commands) {
#ifdef PREVAYLER_WITH_AWS
  commands.setup = app.add_subcommand(
      "setup",
      "create the DynamoDB table (partkey N HASH + order N RANGE, on-demand) and the S3 bucket; "
      "idempotent: existing resources that fit are kept");
  add_aws_flags(*commands.setup, flags, "", true);
  commands.check = app.add_subcommand(
      "check",
      "check that the table has the journal's key schema and is ACTIVE and that the "
      "bucket and the snapshot can be read; writes nothing");
  add_aws_flags(*commands.check, flags, "", true);
#else
  (void)app;
  (void)flags;
  (void)commands;
#endif
}

CLI::App* add_inspect(CLI::App& app, StorageFlags& flags, InspectOptions& options) {
  auto* command =
      app.add_subcommand("inspect", "the snapshots, each segment, retention and events_to_replay");
  add_storage_flags(*command, flags);
  add_key_flag(*command, flags);
  command->add_flag("--json", options.json, "one JSON object");
  return command;
}

CLI::App* add_verify(CLI::App& app, StorageFlags& flags, VerifyOptions& options) {
  auto* command = app.add_subcommand(
      "verify",
      "check everything a recovery reads and everything older still kept; read-only, "
      "safe beside a live instance; exit 1 when a problem is found");
  add_storage_flags(*command, flags);
  add_key_flag(*command, flags);
  command->add_flag("--json", options.json, "one JSON object");
  return command;
}

CLI::App* add_dump(CLI::App& app, StorageFlags& flags, DumpOptions& options) {
  auto* command = app.add_subcommand(
      "dump", "one line per event: position, timestamp, size, state hash, event bytes (base64)");
  add_storage_flags(*command, flags);
  add_key_flag(*command, flags);
  command->add_flag("--json", options.json, "one JSON object per line");
  command->add_option("--from", options.from, "first position, SEGMENT[:RECORD[:ENTRY]]")
      ->check(non_empty);
  command
      ->add_option("--until", options.until,
                   "last position, or last time (ISO 8601 UTC, e.g. 2026-12-01T10:55:13Z)")
      ->check(non_empty);
  return command;
}

CLI::App* add_copy(CLI::App& app, StorageFlags& flags, StorageFlags& to, CopyOptions& options) {
  auto* command = app.add_subcommand(
      "copy",
      "copy the newest snapshot and the journal after it into an empty destination, "
      "positions preserved");
  add_storage_flags(*command, flags);
  command->add_option("--to-dir", to.dir, "destination directory (new or empty)")->check(non_empty);
  add_aws_flags(*command, to, "to-", true);
  command->add_flag("--all", options.all, "every snapshot and segment kept");
  return command;
}

CLI::App* add_prune(CLI::App& app, StorageFlags& flags, std::uint32_t& keep,
                    std::uint32_t& keep_months) {
  auto* command =
      app.add_subcommand("prune", "delete what recovery no longer reads; safe while instances run");
  add_storage_flags(*command, flags);
  command->add_option("--keep", keep, "file storage: snapshots to keep (default 1)")
      ->check(CLI::Range(1u, 1000000u));
  command
      ->add_option("--keep-months", keep_months,
                   "also keep the newest snapshot of each of the last M months and the journal "
                   "from it (StorageOptions::keep_monthly_snapshots; default 0)")
      ->check(CLI::Range(0u, 1000000u));
  return command;
}

// Registers every subcommand, in the order the help lists them.
Subcommands add_subcommands(CLI::App& app, Settings& settings) {
  Subcommands commands;
  commands.help = app.add_subcommand("help", "show this help");
  add_aws_subcommands(app, settings.flags, commands);
  commands.inspect = add_inspect(app, settings.flags, settings.inspect);
  commands.verify = add_verify(app, settings.flags, settings.verify);
  commands.dump = add_dump(app, settings.flags, settings.dump);
  commands.copy = add_copy(app, settings.flags, settings.to, settings.copy);
  commands.prune = add_prune(app, settings.flags, settings.keep, settings.keep_months);
  return commands;
}

void print_usage_hint() { std::cerr << "Run '" << program << " help' for usage." << std::endl; }

// Parses the command line. Returns the exit status when that ends the run
// (help shown, or a usage error), nothing when a subcommand is to run.
std::optional<int> parse(CLI::App& app, const Subcommands& commands, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      std::cout << app.help();
      return exit_ok;
    }
    print_error(e.what());
    print_usage_hint();
    return exit_usage;
  }
  if (commands.help->parsed()) {
    // app.help() would describe the subcommand parsed (help itself).
    std::cout << app.get_formatter()->make_help(&app, std::string(program),
                                                CLI::AppFormatMode::Normal);
    return exit_ok;
  }
  return std::nullopt;
}

// Runs the subcommand parsed; throws UsageError on flags that do not fit.
int dispatch(const Subcommands& commands, Settings& settings) {
#ifdef PREVAYLER_WITH_AWS
  if (commands.setup->parsed() || commands.check->parsed()) {
    settings.flags.aws = true;
    check_storage_flags(settings.flags);
    return commands.setup->parsed() ? run_setup(settings.flags) : run_check(settings.flags);
  }
#endif
  check_storage_flags(settings.flags);
  if (commands.inspect->parsed()) return run_inspect(settings.flags, settings.inspect);
  if (commands.verify->parsed()) return run_verify(settings.flags, settings.verify);
  if (commands.dump->parsed()) return run_dump(settings.flags, settings.dump);
  if (commands.prune->parsed()) {
    return run_prune(settings.flags, {settings.keep, settings.keep_months});
  }
  check_storage_flags(settings.to, "to-");
  return run_copy(settings.flags, settings.to, settings.copy);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(description, std::string(program));
  app.require_subcommand(1);
  app.fallthrough(false);
  Settings settings;
  const Subcommands commands = add_subcommands(app, settings);
  if (const std::optional<int> status = parse(app, commands, argc, argv)) return *status;
  try {
    try {
      return dispatch(commands, settings);
    } catch (const UsageError& e) {
      print_error(e.what());
      print_usage_hint();
      return exit_usage;
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return exit_failure;
  }
}

}  // namespace prevayler::tool

int main(int argc, char** argv) { return prevayler::tool::main(argc, argv); }
