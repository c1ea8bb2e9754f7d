#include "signing/oci_store.hpp"

#include <nlohmann/json.hpp>

namespace ef::signing {

Result<std::string> fetch_oci_head(OciRegistry& registry, const std::string& tag,
                                   uint64_t max_bytes) {
  OciReference where = registry.reference();
  where.tag = tag;
  EF_ASSIGN(auto manifest, registry.fetch_manifest(tag, kOciManifestMediaType, 16 << 20));
  auto j = nlohmann::json::parse(manifest.body, nullptr, false);
  const nlohmann::json* head = nullptr;
  if (j.is_object() && j.contains("layers") && j["layers"].is_array())
    for (const auto& l : j["layers"])
      if (l.is_object() && l.value("mediaType", "") == kOciHeadMediaType) head = &l;
  if (head == nullptr || !(*head)["digest"].is_string() || !(*head)["size"].is_number_unsigned())
    return Error(Errc::bad_bundle, where.str() + ": the manifest names no bundle head (" +
                                       kOciHeadMediaType +
                                       "); publish the bundle there with "
                                       "`edgeforge publish --to oci://...`");
  uint64_t size = (*head)["size"].get<uint64_t>();
  if (size > max_bytes)
    return Error(Errc::bad_bundle, where.str() + ": a bundle head of " + std::to_string(size) +
                                       " bytes is over the limit");
  return registry.get_blob((*head)["digest"].get<std::string>(), size);
}

}  // namespace ef::signing
