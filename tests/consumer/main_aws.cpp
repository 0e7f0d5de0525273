// The AWS component, compiled and linked against prevayler-cpp: the storage
// refuses options without a table before it sends any request, with the
// library's ConfigError.
#include <prevayler/aws_storage.hpp>
#include <prevayler/error.hpp>

#include <cstdio>

int main() {
  prevayler::AwsStorageOptions options;
  options.bucket = "consumer-bucket";  // and no table
  try {
    prevayler::make_aws_storage(options);
  } catch (const prevayler::ConfigError& e) {
    std::printf("refused as expected: %s\n", e.what());
    return 0;
  }
  std::printf("an AWS storage without a table was accepted\n");
  return 1;
}
