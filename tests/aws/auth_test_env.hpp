// Test helpers for code that reads the process environment and files:
// an environment sandbox (clears every AWS_* variable and HOME-based files,
// restores all of it afterwards) and a temporary directory (support/temp_dir).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "support/temp_dir.hpp"

extern char** environ;

namespace prevayler::aws::auth_test {

// Not thread-safe (setenv never is): only for single-threaded test bodies.
class ScopedAwsEnvironment {
 public:
  ScopedAwsEnvironment() {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      const auto eq = entry.find('=');
      const std::string name = entry.substr(0, eq);
      if (name.starts_with("AWS_")) saved_[name] = entry.substr(eq + 1);
    }
    for (const auto& [name, value] : saved_) ::unsetenv(name.c_str());
    remember("HOME");
  }

  ~ScopedAwsEnvironment() {
    for (const auto& [name, unused] : touched_) ::unsetenv(name.c_str());
    for (char** e = environ; *e != nullptr;) {
      const std::string entry = *e;
      const std::string name = entry.substr(0, entry.find('='));
      if (name.starts_with("AWS_")) {
        ::unsetenv(name.c_str());  // shifts environ: look at the same slot again
      } else {
        ++e;
      }
    }
    for (const auto& [name, value] : saved_) ::setenv(name.c_str(), value.c_str(), 1);
  }

  ScopedAwsEnvironment(const ScopedAwsEnvironment&) = delete;
  ScopedAwsEnvironment& operator=(const ScopedAwsEnvironment&) = delete;

  void set(const std::string& name, const std::string& value) {
    remember(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    remember(name);
    ::unsetenv(name.c_str());
  }

 private:
  void remember(const std::string& name) {
    if (saved_.count(name) || touched_.count(name)) return;
    if (const char* value = std::getenv(name.c_str())) {
      saved_[name] = value;
    } else {
      touched_[name] = true;
    }
  }

  std::map<std::string, std::string> saved_;  // restored at the end
  std::map<std::string, bool> touched_;       // unset at the end
};

using TempDir = prevayler::testing::TempDir;

}  // namespace prevayler::aws::auth_test
