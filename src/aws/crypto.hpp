// Hashes and encodings the AWS client needs, on OpenSSL.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace prevayler::aws {

std::array<unsigned char, 32> sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
std::array<unsigned char, 32> hmac_sha256(std::string_view key, std::string_view data);
std::string hex(const unsigned char* data, std::size_t size);
std::string base64_encode(std::string_view data);
std::string base64_decode(std::string_view text);  // throws prevayler::Error on bad input
std::string md5_base64(std::string_view data);     // Content-MD5
std::uint32_t crc32(std::string_view data);        // zlib's CRC-32, as in x-amz-crc32
// RFC 3986 encoding of everything but unreserved characters; '/' kept when
// encode_slash is false (S3 object keys in paths).
std::string uri_encode(std::string_view text, bool encode_slash = true);

}  // namespace prevayler::aws
