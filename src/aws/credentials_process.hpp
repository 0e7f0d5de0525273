// The `credential_process` source of a profile: runs the configured command
// and reads credentials from its standard output, as the AWS SDKs do.
//
// The command runs through /bin/sh -c (as in the AWS SDKs for C++, Java and
// Rust), with this process's environment, standard input and standard error
// (its diagnostics reach the operator as the tool wrote them and never enter
// our messages). Its standard output must be one JSON object:
//   {"Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
//    "SessionToken": "...", "Expiration": "2026-01-02T03:04:05Z"}
// SessionToken and Expiration are optional; without Expiration the
// credentials are used until the process ends.
#pragma once

#include <string>

#include "aws/credentials.hpp"

namespace prevayler::aws {

// Runs `command` for `profile` (named in errors, with `config_file`). Throws
// StorageError when the command cannot be started, runs too long, exits
// non-zero or by a signal, or prints anything but the JSON above; the
// messages never contain what the command printed.
Credentials run_credential_process(const std::string& command, const std::string& profile,
                                   const std::string& config_file);

}  // namespace prevayler::aws
