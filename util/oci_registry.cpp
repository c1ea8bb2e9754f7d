#include "util/oci_registry.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "util/atomic_file.hpp"
#include "util/json_fields.hpp"
#include "util/sha256.hpp"

namespace ef {
namespace {

using nlohmann::json;

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string unbase64(std::string_view in) {
  std::string out(3 * (in.size() / 4) + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return "";
  out.resize(static_cast<size_t>(n));
  while (!in.empty() && in.back() == '=') {  // EVP_DecodeBlock counts padding as zeros
    in.remove_suffix(1);
    if (!out.empty()) out.pop_back();
  }
  return out;
}

bool loopback(const std::string& host) {
  return host == "localhost" || host.starts_with("127.") || host == "[::1]";
}

// The string member `name` of `j`, "" when `j` is not an object or the
// member is missing or not a string (answers and files from elsewhere).
// key="value" pairs of a WWW-Authenticate challenge after its scheme.
std::map<std::string, std::string> challenge_params(const std::string& header) {
  std::map<std::string, std::string> out;
  size_t pos = header.find(' ');
  while (pos != std::string::npos && pos < header.size()) {
    size_t eq = header.find('=', pos);
    if (eq == std::string::npos) break;
    std::string key = header.substr(pos, eq - pos);
    while (!key.empty() && (key.front() == ' ' || key.front() == ',')) key.erase(0, 1);
    std::string value;
    size_t end;
    if (eq + 1 < header.size() && header[eq + 1] == '"') {
      end = header.find('"', eq + 2);
      value = header.substr(eq + 2, end == std::string::npos ? std::string::npos : end - eq - 2);
      if (end != std::string::npos) ++end;
    } else {
      end = header.find(',', eq + 1);
      value = header.substr(eq + 1, end == std::string::npos ? std::string::npos : end - eq - 1);
    }
    out[key] = value;
    pos = end;
  }
  return out;
}

std::string query_escape(const std::string& s) {
  std::string out;
  const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string OciReference::api_base() const {
  return std::string(plain_http ? "http" : "https") + "://" + registry + "/v2/" + repository + "/";
}

std::string OciReference::str() const {
  return "oci://" + registry + "/" + repository + (tag.empty() ? "" : ":" + tag);
}

Result<OciReference> parse_oci_reference(std::string_view text, bool plain_http) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::invalid_argument,
                 std::string(text) + ": " + why + " (expected oci://HOST[:PORT]/REPOSITORY[:TAG])");
  };
  if (!text.starts_with("oci://")) return bad("not an oci:// reference");
  std::string rest(text.substr(6));
  size_t slash = rest.find('/');
  if (slash == std::string::npos || slash == 0) return bad("no registry host");
  OciReference r;
  r.registry = rest.substr(0, slash);
  std::string path = rest.substr(slash + 1);
  size_t colon = path.rfind(':');
  if (colon != std::string::npos && path.find('/', colon) == std::string::npos) {
    r.tag = path.substr(colon + 1);
    path = path.substr(0, colon);
  }
  if (path.empty()) return bad("no repository");
  for (char c : path)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
          c == '-'))
      return bad("a repository is lower-case letters, digits and . _ - /");
  for (char c : r.tag)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return bad("a tag is letters, digits and . _ -");
  r.repository = path;
  std::string host = r.registry.substr(0, r.registry.rfind(':'));
  r.plain_http = plain_http || loopback(host);
  return r;
}

std::filesystem::path default_docker_config() {
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir)
    return std::filesystem::path(dir) / "config.json";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/root") / ".docker" / "config.json";
}

Result<OciCredentials> docker_config_credentials(const std::string& registry,
                                                 const std::filesystem::path& config) {
  std::error_code ec;
  if (!std::filesystem::exists(config, ec)) return OciCredentials{};
  EF_ASSIGN(std::string text, read_file(config));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error(Errc::invalid_argument, config.string() + ": not a Docker config (JSON)");
  const json& auths = j.value("auths", json::object());
  for (const std::string& key : {registry, "https://" + registry, "http://" + registry}) {
    auto entry = auths.is_object() ? auths.find(key) : auths.end();
    if (entry == auths.end()) continue;
    std::string decoded = unbase64(string_of(*entry, "auth"));
    size_t colon = decoded.find(':');
    if (colon == std::string::npos)
      return Error(Errc::invalid_argument,
                   config.string() + ": auths." + key + ".auth is not base64 of USER:PASSWORD");
    return OciCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
  }
  return OciCredentials{};
}

std::optional<OciManifestLayers> parse_manifest_layers(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  OciManifestLayers out;
  out.artifact_type = string_of(j, "artifactType");
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) return out;
  out.listed = layers->size();
  for (const json& l : *layers) {
    if (!l.is_object()) continue;
    auto size = l.find("size");
    if (size == l.end() || !size->is_number_unsigned()) continue;
    OciDescriptor d{string_of(l, "mediaType"), string_of(l, "digest"), size->get<uint64_t>()};
    if (!d.media_type.empty() && !d.digest.empty()) out.layers.push_back(std::move(d));
  }
  return out;
}

OciRegistry::OciRegistry(OciReference ref, OciCredentials credentials, HttpStreamOptions http)
    : ref_(std::move(ref)), credentials_(std::move(credentials)), client_(http) {}

Error OciRegistry::failed(const HttpResponse& r, const std::string& what) const {
  std::string detail = r.body.substr(0, 200);
  for (char& c : detail)
    if (c == '\n' || c == '\r') c = ' ';
  std::string hint = r.status == 401 || r.status == 403
                         ? "; log in with 'docker login " + ref_.registry +
                               "' (~/.docker/config.json) or give --username/--password-env"
                         : "";
  return Error(Errc::network, ref_.str() + ": " + what + ": HTTP " + std::to_string(r.status) +
                                  (detail.empty() ? "" : " (" + detail + ")") + hint);
}

Result<void> OciRegistry::authorize(const HttpResponse& challenge) {
  std::string header =
      challenge.headers.count("www-authenticate") ? challenge.headers.at("www-authenticate") : "";
  if (header.rfind("Basic", 0) == 0 || header.rfind("basic", 0) == 0) {
    if (credentials_.empty()) return failed(challenge, "the registry wants a login");
    authorization_ =
        "Authorization: Basic " + base64(credentials_.username + ":" + credentials_.password);
    return Ok{};
  }
  if (header.rfind("Bearer", 0) != 0 && header.rfind("bearer", 0) != 0)
    return failed(challenge, "unsupported authentication '" + header + "'");
  auto params = challenge_params(header);
  std::string url = params["realm"] + "?service=" + query_escape(params["service"]);
  if (!params["scope"].empty()) url += "&scope=" + query_escape(params["scope"]);
  HttpRequest token;
  token.url = url;
  if (!credentials_.empty())
    token.headers.push_back("Authorization: Basic " +
                            base64(credentials_.username + ":" + credentials_.password));
  EF_ASSIGN(HttpResponse r, client_.send(token));
  if (r.status != 200) return failed(r, "token from " + params["realm"]);
  json j = json::parse(r.body, nullptr, false);
  std::string t = string_of(j, "token");
  if (t.empty()) t = string_of(j, "access_token");
  if (t.empty()) return failed(r, "no token in the answer of " + params["realm"]);
  // It goes into a header line: a token that could end the line is refused.
  if (!std::all_of(t.begin(), t.end(), [](char c) { return c > ' ' && c < 0x7f; }))
    return failed(r, "a token with spaces or control characters from " + params["realm"]);
  authorization_ = "Authorization: Bearer " + t;
  return Ok{};
}

Result<HttpResponse> OciRegistry::call(HttpRequest request) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    HttpRequest r = request;
    if (!authorization_.empty()) r.headers.push_back(authorization_);
    EF_ASSIGN(HttpResponse response, client_.send(r));
    if (response.status != 401 || attempt == 1) return response;
    EF_TRY(authorize(response));
  }
  return Error(Errc::internal, "unreachable");
}

Result<bool> OciRegistry::has_blob(const std::string& digest) {
  HttpRequest r;
  r.method = "HEAD";
  r.url = ref_.api_base() + "blobs/" + digest;
  EF_ASSIGN(HttpResponse response, call(r));
  if (response.status == 200) return true;
  if (response.status == 404) return false;
  return failed(response, "blob " + digest);
}

Result<void> OciRegistry::push_blob(const std::string& digest, std::string_view data) {
  HttpRequest start;
  start.method = "POST";
  start.url = ref_.api_base() + "blobs/uploads/";
  EF_ASSIGN(HttpResponse session, call(start));
  if (session.status != 202 || !session.headers.count("location"))
    return failed(session, "starting the upload of " + digest);
  std::string location = resolve_url(session.url, session.headers["location"]);
  HttpRequest put;
  put.method = "PUT";
  put.url = location + (location.find('?') == std::string::npos ? "?" : "&") +
            "digest=" + query_escape(digest);
  put.headers = {"Content-Type: application/octet-stream"};
  put.body = std::string(data);
  EF_ASSIGN(HttpResponse done, call(put));
  if (done.status != 201) return failed(done, "uploading " + digest);
  return Ok{};
}

Result<std::string> OciRegistry::get_blob(const std::string& digest, size_t max_bytes) {
  HttpRequest r;
  r.url = ref_.api_base() + "blobs/" + digest;
  r.max_bytes = max_bytes;
  EF_ASSIGN(HttpResponse response, call(r));
  if (response.status != 200) return failed(response, "blob " + digest);
  if ("sha256:" + sha256_hex(response.body) != digest)
    return Error(Errc::checksum, ref_.str() + ": blob " + digest + " has other bytes");
  return std::move(response.body);
}

Result<void> OciRegistry::put_manifest(const std::string& tag, const std::string& media_type,
                                       const std::string& body) {
  HttpRequest r;
  r.method = "PUT";
  r.url = ref_.api_base() + "manifests/" + tag;
  r.headers = {"Content-Type: " + media_type};
  r.body = body;
  EF_ASSIGN(HttpResponse response, call(r));
  if (response.status != 201) return failed(response, "manifest " + tag);
  return Ok{};
}

Result<std::string> OciRegistry::get_manifest(const std::string& tag, const std::string& media_type,
                                              size_t max_bytes) {
  HttpRequest r;
  r.url = ref_.api_base() + "manifests/" + tag;
  r.headers = {"Accept: " + media_type};
  r.max_bytes = max_bytes;
  EF_ASSIGN(HttpResponse response, call(r));
  if (response.status != 200) return failed(response, "manifest " + tag);
  return std::move(response.body);
}

Result<OciRegistry::Manifest> OciRegistry::fetch_manifest(const std::string& tag,
                                                          const std::string& media_type,
                                                          size_t max_bytes,
                                                          const std::string& if_none_match) {
  HttpRequest r;
  r.url = ref_.api_base() + "manifests/" + tag;
  r.headers = {"Accept: " + media_type};
  if (!if_none_match.empty()) r.headers.push_back("If-None-Match: " + if_none_match);
  r.max_bytes = max_bytes;
  EF_ASSIGN(HttpResponse response, call(r));
  Manifest m;
  auto header = [&](const char* name) {
    auto it = response.headers.find(name);
    return it == response.headers.end() ? std::string() : it->second;
  };
  if (response.status == 304 && !if_none_match.empty()) {
    m.not_modified = true;
    m.etag = if_none_match;
    return m;
  }
  if (response.status == 404)
    return Error(Errc::not_found, ref_.str() + ": no manifest " + tag + " in the repository");
  if (response.status != 200) return failed(response, "manifest " + tag);
  m.body = std::move(response.body);
  m.digest = "sha256:" + sha256_hex(m.body);
  std::string claimed = header("docker-content-digest");
  if (!claimed.empty() && claimed != m.digest)
    return Error(Errc::checksum, ref_.str() + ": manifest " + tag + " is not the " + claimed +
                                     " the registry names");
  m.etag = header("etag");
  if (m.etag.empty()) m.etag = "\"" + m.digest + "\"";
  return m;
}

}  // namespace ef
