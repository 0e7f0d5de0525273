// prevayler: the operator command for every storage of prevayler-cpp.
//
//   prevayler setup|check   --table T --bucket B         (AWS builds)
//   prevayler inspect [--json]              STORAGE
//   prevayler verify [--json]               STORAGE
//   prevayler dump [--json] [--from POS] [--until POS|TIME] STORAGE
//   prevayler copy [--all] STORAGE (--to-dir PATH | --to-aws --to-table T --to-bucket B)
//   prevayler prune [--keep N]              STORAGE
// where STORAGE is `--dir PATH` or `--aws --table T --bucket B
// [--snapshot-path K]`. Exit status: 0 success (verify: clean), 1 a problem
// found or a failure, 2 a usage error. Errors go to stderr. Docs:
// docs/operations.md.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(description, std::string(program));
  app.require_subcommand(1);
  app.fallthrough(false);
  StorageFlags flags;
  StorageFlags to;
  InspectOptions inspect;
  VerifyOptions verify;
  DumpOptions dump;
  CopyOptions copy;
  std::uint32_t keep = 1;

  auto* help = app.add_subcommand("help", "show this help");
#ifdef PREVAYLER_WITH_AWS
  auto* setup = app.add_subcommand(
      "setup",
      "create the DynamoDB table (partkey N HASH + order N RANGE, on-demand) and the S3 bucket; "
      "idempotent: existing resources that fit are kept");
  add_aws_flags(*setup, flags, "", true);
  auto* check = app.add_subcommand(
      "check",
      "check that the table has the journal's key schema and is ACTIVE and that the "
      "bucket and the snapshot can be read; writes nothing");
  add_aws_flags(*check, flags, "", true);
#endif
  auto* inspect_cmd =
      app.add_subcommand("inspect", "the snapshots, each segment, retention and events_to_replay");
  add_storage_flags(*inspect_cmd, flags);
  inspect_cmd->add_flag("--json", inspect.json, "one JSON object");
  auto* verify_cmd = app.add_subcommand(
      "verify",
      "check everything a recovery reads and everything older still kept; read-only, "
      "safe beside a live instance; exit 1 when a problem is found");
  add_storage_flags(*verify_cmd, flags);
  verify_cmd->add_flag("--json", verify.json, "one JSON object");
  auto* dump_cmd = app.add_subcommand(
      "dump", "one line per event: position, timestamp, size, state hash, event bytes (base64)");
  add_storage_flags(*dump_cmd, flags);
  dump_cmd->add_flag("--json", dump.json, "one JSON object per line");
  dump_cmd->add_option("--from", dump.from, "first position, SEGMENT[:RECORD[:ENTRY]]")
      ->check(non_empty);
  dump_cmd
      ->add_option("--until", dump.until,
                   "last position, or last time (ISO 8601 UTC, e.g. 2026-12-01T10:55:13Z)")
      ->check(non_empty);
  auto* copy_cmd = app.add_subcommand(
      "copy",
      "copy the newest snapshot and the journal after it into an empty destination, "
      "positions preserved");
  add_storage_flags(*copy_cmd, flags);
  copy_cmd->add_option("--to-dir", to.dir, "destination directory (new or empty)")
      ->check(non_empty);
  add_aws_flags(*copy_cmd, to, "to-", true);
  copy_cmd->add_flag("--all", copy.all, "every snapshot and segment kept");
  auto* prune_cmd =
      app.add_subcommand("prune", "delete what recovery no longer reads; safe while instances run");
  add_storage_flags(*prune_cmd, flags);
  prune_cmd->add_option("--keep", keep, "file storage: snapshots to keep (default 1)")
      ->check(CLI::Range(1u, 1000000u));

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
    std::cerr << "Run '" << program << " help' for usage." << std::endl;
    return exit_usage;
  }
  if (help->parsed()) {
    // app.help() would describe the subcommand parsed (help itself).
    std::cout << app.get_formatter()->make_help(&app, std::string(program),
                                                CLI::AppFormatMode::Normal);
    return exit_ok;
  }
  try {
    try {
#ifdef PREVAYLER_WITH_AWS
      if (setup->parsed() || check->parsed()) {
        flags.aws = true;
        check_storage_flags(flags);
        return setup->parsed() ? run_setup(flags) : run_check(flags);
      }
#endif
      check_storage_flags(flags);
      if (inspect_cmd->parsed()) return run_inspect(flags, inspect);
      if (verify_cmd->parsed()) return run_verify(flags, verify);
      if (dump_cmd->parsed()) return run_dump(flags, dump);
      if (prune_cmd->parsed()) return run_prune(flags, keep);
      check_storage_flags(to, "to-");
      return run_copy(flags, to, copy);
    } catch (const UsageError& e) {
      print_error(e.what());
      std::cerr << "Run '" << program << " help' for usage." << std::endl;
      return exit_usage;
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return exit_failure;
  }
}

}  // namespace prevayler::tool

int main(int argc, char** argv) { return prevayler::tool::main(argc, argv); }
