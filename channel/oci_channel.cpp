#include "channel/oci_channel.hpp"

#include <nlohmann/json.hpp>

#include "channel/channel.hpp"
#include "util/sha256.hpp"

namespace ef::channel {
namespace {

using nlohmann::json;

constexpr const char* kEmptyConfigType = "application/vnd.oci.empty.v1+json";
constexpr std::string_view kEmptyConfig = "{}";
constexpr size_t kMaxManifestBytes = 64 * 1024;

json descriptor(const char* media_type, std::string_view bytes) {
  return {
      {"mediaType", media_type}, {"digest", "sha256:" + sha256_hex(bytes)}, {"size", bytes.size()}};
}

}  // namespace

std::string oci_channel_manifest(std::string_view file_bytes) {
  json m = {{"schemaVersion", 2},
            {"mediaType", kOciImageManifestType},
            {"artifactType", kOciChannelArtifactType},
            {"config", descriptor(kEmptyConfigType, kEmptyConfig)},
            {"layers", json::array({descriptor(kOciChannelMediaType, file_bytes)})}};
  return m.dump();
}

Result<OciChannelRead> read_oci_channel(OciRegistry& registry, const std::string& name,
                                        const std::string& if_none_match) {
  EF_ASSIGN(auto m,
            registry.fetch_manifest(name, kOciImageManifestType, kMaxManifestBytes, if_none_match));
  OciChannelRead out;
  out.etag = m.etag;
  if (m.not_modified) {
    out.not_modified = true;
    return out;
  }
  const std::string where = registry.reference().str() + ":" + name;
  auto parsed = parse_manifest_layers(m.body);
  if (!parsed || parsed->artifact_type != kOciChannelArtifactType || parsed->listed != 1 ||
      parsed->layers.size() != 1 || parsed->layers[0].media_type != kOciChannelMediaType)
    return Error(Errc::bad_channel, where + ": the tag is not a channel (an artifact of type " +
                                        kOciChannelArtifactType + " with one " +
                                        kOciChannelMediaType + " layer)");
  const OciDescriptor& layer = parsed->layers[0];
  if (layer.size > kMaxChannelBytes)
    return Error(Errc::bad_channel, where + ": a channel file of " + std::to_string(layer.size) +
                                        " bytes, larger than any channel file");
  EF_ASSIGN(out.bytes, registry.get_blob(layer.digest, layer.size));
  return out;
}

Result<void> write_oci_channel(OciRegistry& registry, const std::string& name,
                               std::string_view file_bytes) {
  for (std::string_view blob : {kEmptyConfig, file_bytes}) {
    std::string digest = "sha256:" + sha256_hex(blob);
    EF_ASSIGN(bool there, registry.has_blob(digest));
    if (!there) EF_TRY(registry.push_blob(digest, blob));
  }
  return registry.put_manifest(name, kOciImageManifestType, oci_channel_manifest(file_bytes));
}

}  // namespace ef::channel
