#include "aws/s3.hpp"

#include <pugixml.hpp>
#include <utility>

#include "aws/crypto.hpp"
#include "aws/sigv4.hpp"

namespace prevayler::aws {
namespace {

constexpr std::string_view service_name = "S3";
constexpr std::string_view us_east_1_region = "us-east-1";
// Characters of an unparseable error body quoted in the message.
constexpr std::size_t error_body_excerpt_chars_max = 200;
constexpr std::string_view xml_namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

bool is_ip_or_localhost(std::string_view host) {
  if (host == "localhost") return true;
  if (!host.empty() && host.front() == '[') return true;  // IPv6 literal
  if (host.empty()) return false;
  for (char c : host)
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  return true;
}

std::string object_resource(const std::string& bucket, const std::string& key) {
  return key.empty() ? "bucket " + bucket : "s3://" + bucket + "/" + key;
}

std::uint64_t parse_u64(const std::string* text, std::uint64_t fallback) {
  if (!text) return fallback;
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return fallback;
  }
}

std::string text_of(const pugi::xml_node& node, const char* child) {
  return node.child(child).text().as_string();
}

void add_condition(HttpHeaders& headers, const WriteCondition& condition) {
  switch (condition.kind) {
    case WriteCondition::Kind::none:
      break;
    case WriteCondition::Kind::if_match:
      headers.emplace_back("If-Match", condition.etag);
      break;
    case WriteCondition::Kind::if_none_match_star:
      headers.emplace_back("If-None-Match", "*");
      break;
  }
}

std::string header_or_empty(const HttpResponse& response, std::string_view name) {
  const std::string* value = response.header(name);
  return value ? *value : std::string();
}

}  // namespace

S3Client::S3Client(S3Config config) : config_(std::move(config)) {
  if (config_.region.empty()) throw ConfigError("S3 client: no region");
  if (!config_.credentials) throw ConfigError("S3 client: no credentials provider");
  if (!config_.transport) throw ConfigError("S3 client: no HTTP transport");
  if (!config_.retry) config_.retry = make_standard_retry_strategy();
  std::string endpoint = config_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  const auto scheme_end = endpoint.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0 ||
      endpoint.find('/', scheme_end + 3) != std::string::npos || endpoint.size() == scheme_end + 3)
    throw ConfigError("S3 client: endpoint \"" + config_.endpoint +
                      "\" is not scheme://host[:port]");
  scheme_ = endpoint.substr(0, scheme_end);
  host_ = endpoint.substr(scheme_end + 3);
  std::string host_only = host_;
  if (host_only.front() == '[') {
    host_only = host_only.substr(0, host_only.find(']') + 1);
  } else if (auto colon = host_only.find(':'); colon != std::string::npos) {
    host_only.resize(colon);
  }
  path_style_ = config_.path_style.value_or(is_ip_or_localhost(host_only));
}

std::string S3Client::url(const std::string& bucket, const std::string& key,
                          const std::string& query) const {
  std::string u = scheme_ + "://";
  // Bucket names with dots break TLS host matching in virtual-hosted style.
  if (path_style_ || bucket.find('.') != std::string::npos) {
    u += host_ + "/" + bucket;
    if (!key.empty()) u += "/" + uri_encode(key, false);
  } else {
    u += bucket + "." + host_ + "/" + uri_encode(key, false);
  }
  if (!query.empty()) u += "?" + query;
  return u;
}

HttpResponse S3Client::attempt(const Call& call) const {
  HttpRequest request;
  request.method = call.method;
  request.url = url(call.bucket, call.key, call.query);
  request.headers = call.headers;
  request.body = std::string(call.body);
  request.timeout = config_.request_timeout;
  sign_request(request, config_.credentials->get(),
               SigningOptions{config_.region, "s3", std::chrono::system_clock::now(), true, false});
  HttpResponse response = config_.transport->send(request);

  const std::string resource = object_resource(call.bucket, call.key);
  pugi::xml_document doc;
  pugi::xml_node error;
  const bool success = response.status >= 200 && response.status < 300;
  if (!response.body.empty() && (!success || call.operation == "CompleteMultipartUpload")) {
    // CompleteMultipartUpload may answer 200 and then an <Error> body.
    if (doc.load_buffer(response.body.data(), response.body.size())) error = doc.child("Error");
  }
  if (success && !error) return response;

  AwsErrorInfo info{
      std::string(service_name),
      call.operation,
      resource,
      response.status,
      error ? text_of(error, "Code") : std::string(),
      error ? text_of(error, "Message") : std::string(),
      error ? text_of(error, "RequestId") : header_or_empty(response, "x-amz-request-id"),
      ""};
  if (info.request_id.empty()) info.request_id = header_or_empty(response, "x-amz-request-id");
  // Not S3's XML (a proxy's or an emulator's HTML page): quote its start.
  if (!error && !response.body.empty())
    info.message = response.body.substr(0, error_body_excerpt_chars_max);
  // HEAD responses have no body: name the error from the status.
  if (info.code.empty()) {
    switch (response.status) {
      case 404:
        info.code = call.key.empty() ? "NoSuchBucket" : "NoSuchKey";
        break;
      case 403:
        info.code = "AccessDenied";
        break;
      case 412:
        info.code = "PreconditionFailed";
        break;
      case 301:
        info.code = "PermanentRedirect";
        break;
      case 503:
        info.code = "ServiceUnavailable";
        break;
      default:
        if (success) info.code = "InternalError";  // the 200-with-<Error> case
        break;
    }
  }
  if (success) info.http_status = 500;  // an <Error> in a 200 is a server failure: retryable
  std::string expected_region = error ? text_of(error, "Region") : std::string();
  if (expected_region.empty()) expected_region = header_or_empty(response, "x-amz-bucket-region");
  throw_aws_error(std::move(info), config_.region, expected_region);
}

HttpResponse S3Client::send(const Call& call) const {
  return run_with_retries(*config_.retry, [&](const RetryState&) { return attempt(call); });
}

void S3Client::head_bucket(const std::string& bucket) {
  send(Call{"HEAD", bucket, "", "", {}, {}, "HeadBucket"});
}

bool S3Client::create_bucket(const std::string& bucket) {
  std::string body;
  if (config_.region != us_east_1_region) {
    body = "<CreateBucketConfiguration xmlns=\"" + std::string(xml_namespace) +
           "\"><LocationConstraint>" + config_.region +
           "</LocationConstraint></CreateBucketConfiguration>";
  }
  try {
    send(Call{"PUT", bucket, "", "", {}, body, "CreateBucket"});
    return true;
  } catch (const AwsError& e) {
    // Also what a retry after an ambiguous first attempt sees.
    if (e.code() == "BucketAlreadyOwnedByYou") return false;
    throw;
  }
}

bool S3Client::delete_bucket(const std::string& bucket) {
  try {
    send(Call{"DELETE", bucket, "", "", {}, {}, "DeleteBucket"});
    return true;
  } catch (const ResourceNotFoundError&) {
    return false;
  }
}

ObjectInfo S3Client::head_object(const std::string& bucket, const std::string& key) {
  HttpResponse r = send(Call{"HEAD", bucket, key, "", {}, {}, "HeadObject"});
  return ObjectInfo{parse_u64(r.header("Content-Length"), 0), header_or_empty(r, "ETag")};
}

GetObjectResult S3Client::get_object(const std::string& bucket, const std::string& key,
                                     std::optional<ByteRange> range, const std::string& if_match) {
  HttpHeaders headers;
  if (!if_match.empty()) headers.emplace_back("If-Match", if_match);
  if (range) {
    if (range->last < range->first)
      throw ConfigError("S3 GetObject on s3://" + bucket + "/" + key + ": byte range " +
                        std::to_string(range->first) + "-" + std::to_string(range->last) +
                        " is empty");
    headers.emplace_back(
        "Range", "bytes=" + std::to_string(range->first) + "-" + std::to_string(range->last));
  }
  HttpResponse r = send(Call{"GET", bucket, key, "", std::move(headers), {}, "GetObject"});
  GetObjectResult result;
  result.etag = header_or_empty(r, "ETag");
  result.total_size = r.body.size();
  // "bytes first-last/total" on a 206.
  if (const std::string* content_range = r.header("Content-Range")) {
    auto slash = content_range->rfind('/');
    if (slash != std::string::npos && content_range->compare(slash + 1, 1, "*") != 0) {
      std::string total = content_range->substr(slash + 1);
      result.total_size = parse_u64(&total, result.total_size);
    }
  } else {
    result.total_size = parse_u64(r.header("Content-Length"), result.total_size);
  }
  if (range && r.status == 206 && r.body.size() > range->last - range->first + 1)
    throw StorageError("S3 GetObject on s3://" + bucket + "/" + key + " returned " +
                       std::to_string(r.body.size()) + " bytes for a range of " +
                       std::to_string(range->last - range->first + 1));
  result.body = std::move(r.body);
  return result;
}

std::string S3Client::put_object(const std::string& bucket, const std::string& key,
                                 std::string_view body, const WriteCondition& condition) {
  if (body.size() > s3_put_object_bytes_max)
    throw ConfigError("S3 PutObject on s3://" + bucket + "/" + key + ": " +
                      std::to_string(body.size()) +
                      " bytes is over the single-put limit; use "
                      "a multipart upload");
  // Content-MD5 makes S3 reject a body damaged on the way.
  HttpHeaders headers{{"Content-MD5", md5_base64(body)}};
  add_condition(headers, condition);
  HttpResponse r = send(Call{"PUT", bucket, key, "", std::move(headers), body, "PutObject"});
  return header_or_empty(r, "ETag");
}

void S3Client::delete_object(const std::string& bucket, const std::string& key) {
  send(Call{"DELETE", bucket, key, "", {}, {}, "DeleteObject"});
}

std::vector<ListedObject> S3Client::list_objects_v2(const std::string& bucket,
                                                    const std::string& prefix,
                                                    int max_keys_per_page) {
  std::vector<ListedObject> objects;
  std::string token;
  for (;;) {
    std::string query = "list-type=2&max-keys=" + std::to_string(max_keys_per_page) +
                        "&prefix=" + uri_encode(prefix, true);
    if (!token.empty()) query = "continuation-token=" + uri_encode(token, true) + "&" + query;
    HttpResponse r = send(Call{"GET", bucket, "", query, {}, {}, "ListObjectsV2"});
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size()))
      throw StorageError("S3 ListObjectsV2 on bucket " + bucket + " returned invalid XML");
    pugi::xml_node result = doc.child("ListBucketResult");
    for (pugi::xml_node c = result.child("Contents"); c; c = c.next_sibling("Contents")) {
      objects.push_back(
          {text_of(c, "Key"), c.child("Size").text().as_ullong(), text_of(c, "ETag")});
    }
    token = text_of(result, "NextContinuationToken");
    if (!result.child("IsTruncated").text().as_bool() || token.empty()) break;
  }
  return objects;
}

std::string S3Client::create_multipart_upload(const std::string& bucket, const std::string& key) {
  HttpResponse r = send(Call{"POST", bucket, key, "uploads=", {}, {}, "CreateMultipartUpload"});
  pugi::xml_document doc;
  doc.load_buffer(r.body.data(), r.body.size());
  std::string upload_id = text_of(doc.child("InitiateMultipartUploadResult"), "UploadId");
  if (upload_id.empty())
    throw StorageError("S3 CreateMultipartUpload on s3://" + bucket + "/" + key +
                       " returned no UploadId");
  return upload_id;
}

std::string S3Client::upload_part(const std::string& bucket, const std::string& key,
                                  const std::string& upload_id, int part_number,
                                  std::string_view body) {
  if (part_number < 1 || part_number > s3_multipart_parts_max)
    throw ConfigError("S3 UploadPart: part number " + std::to_string(part_number) +
                      " is outside 1.." + std::to_string(s3_multipart_parts_max));
  HttpHeaders headers{{"Content-MD5", md5_base64(body)}};
  const std::string query =
      "partNumber=" + std::to_string(part_number) + "&uploadId=" + uri_encode(upload_id, true);
  HttpResponse r = send(Call{"PUT", bucket, key, query, std::move(headers), body, "UploadPart"});
  return header_or_empty(r, "ETag");
}

std::string S3Client::complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                const std::string& upload_id,
                                                const std::vector<CompletedPart>& parts,
                                                const WriteCondition& condition) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = std::string(xml_namespace).c_str();
  for (const auto& part : parts) {
    pugi::xml_node p = root.append_child("Part");
    p.append_child("PartNumber").text().set(part.part_number);
    p.append_child("ETag").text().set(part.etag.c_str());
  }
  struct Writer : pugi::xml_writer {
    std::string out;
    void write(const void* data, std::size_t size) override {
      out.append(static_cast<const char*>(data), size);
    }
  } writer;
  doc.save(writer, "", pugi::format_raw);
  HttpHeaders headers;
  add_condition(headers, condition);
  HttpResponse r = send(Call{"POST", bucket, key, "uploadId=" + uri_encode(upload_id, true),
                             std::move(headers), writer.out, "CompleteMultipartUpload"});
  pugi::xml_document reply;
  reply.load_buffer(r.body.data(), r.body.size());
  // S3 names the root CompleteMultipartUploadResult; moto ...Response.
  std::string etag = text_of(reply.document_element(), "ETag");
  return etag.empty() ? header_or_empty(r, "ETag") : etag;
}

void S3Client::abort_multipart_upload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  try {
    send(Call{"DELETE",
              bucket,
              key,
              "uploadId=" + uri_encode(upload_id, true),
              {},
              {},
              "AbortMultipartUpload"});
  } catch (const AwsError& e) {
    // Already aborted (or completed): also what a retry after an ambiguous
    // first attempt sees.
    if (e.code() != "NoSuchUpload") throw;
  }
}

}  // namespace prevayler::aws
