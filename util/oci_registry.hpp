// The parts of the OCI distribution API (Docker registry v2) that publishing
// and fetching chunk stores need: blobs by digest, manifests by tag, basic
// and bearer-token auth. Plain HTTP only for registries on the loopback
// (localhost, 127.0.0.0/8), as Docker does, or when asked.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/http_client.hpp"

namespace ef {

/// oci://HOST[:PORT]/REPOSITORY[:TAG]
struct OciReference {
  std::string registry;    // host[:port]
  std::string repository;  // e.g. "edge/store-edge"
  std::string tag;         // empty when the reference has none
  bool plain_http = false;
  /// scheme://registry/v2/repository/
  std::string api_base() const;
  std::string str() const;  // oci://registry/repository[:tag]
};

/// Parses `text`; `plain_http` forces http:// (loopback hosts always get it).
Result<OciReference> parse_oci_reference(std::string_view text, bool plain_http = false);

struct OciCredentials {
  std::string username, password;
  bool empty() const { return username.empty() && password.empty(); }
};

/// The credentials `docker login` stored for `registry` in a Docker
/// config.json ("auths": {"host:port": {"auth": base64("user:pass")}});
/// none when the file or the entry is missing.
Result<OciCredentials> docker_config_credentials(const std::string& registry,
                                                 const std::filesystem::path& config);

/// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
std::filesystem::path default_docker_config();

/// One descriptor of an OCI image manifest's `layers`.
struct OciDescriptor {
  std::string media_type;
  std::string digest;  // "sha256:..." as the manifest gives it (get_blob checks it)
  uint64_t size = 0;
};

/// The manifest JSON `body` (from a registry nobody trusts): its
/// `artifactType` ("" when absent) and every well-formed layer descriptor
/// (mediaType and digest strings, size an unsigned number; others are left
/// out). nullopt when `body` is not a JSON object.
struct OciManifestLayers {
  std::string artifact_type;
  std::vector<OciDescriptor> layers;
  size_t listed = 0;  // entries of `layers`, well-formed or not
};
std::optional<OciManifestLayers> parse_manifest_layers(std::string_view body);

class OciRegistry {
 public:
  OciRegistry(OciReference ref, OciCredentials credentials, HttpStreamOptions http);

  const OciReference& reference() const { return ref_; }
  /// Whether the repository has the blob `digest` ("sha256:...").
  Result<bool> has_blob(const std::string& digest);
  /// Uploads `data` as the blob `digest` (monolithic upload: POST, PUT).
  Result<void> push_blob(const std::string& digest, std::string_view data);
  /// The blob `digest`, at most `max_bytes`, checked against its digest.
  Result<std::string> get_blob(const std::string& digest, size_t max_bytes);
  Result<void> put_manifest(const std::string& tag, const std::string& media_type,
                            const std::string& body);
  /// The manifest `tag` (Accept: `media_type`), at most `max_bytes`.
  Result<std::string> get_manifest(const std::string& tag, const std::string& media_type,
                                   size_t max_bytes);

  /// A manifest read conditionally: the registry answers 304 when it is
  /// still the one whose ETag (its digest) the caller holds.
  struct Manifest {
    bool not_modified = false;
    std::string body;    // empty when not modified
    std::string digest;  // Docker-Content-Digest, else the body's sha256
    std::string etag;    // what to send as If-None-Match next time
  };
  /// The manifest `tag` unless it is still `if_none_match` (an ETag this
  /// registry gave); a tag the repository does not have is Errc::not_found.
  Result<Manifest> fetch_manifest(const std::string& tag, const std::string& media_type,
                                  size_t max_bytes, const std::string& if_none_match = "");

 private:
  /// Sends `request` with the current authorization; on a 401 gets one
  /// (basic, or a bearer token from the realm the registry names) and
  /// sends it once more.
  Result<HttpResponse> call(HttpRequest request);
  Result<void> authorize(const HttpResponse& challenge);
  Error failed(const HttpResponse& r, const std::string& what) const;

  OciReference ref_;
  OciCredentials credentials_;
  HttpClient client_;
  std::string authorization_;  // "Authorization: ..." once known
};

}  // namespace ef
