#include "signing/oci_store.hpp"

namespace ef::signing {

Result<std::string> fetch_oci_head(OciRegistry& registry, const std::string& tag,
                                   uint64_t max_bytes) {
  OciReference where = registry.reference();
  where.tag = tag;
  EF_ASSIGN(auto manifest, registry.fetch_manifest(tag, kOciManifestMediaType, 16 << 20));
  auto parsed = parse_manifest_layers(manifest.body);
  const OciDescriptor* head = nullptr;
  if (parsed)
    for (const auto& l : parsed->layers)
      if (l.media_type == kOciHeadMediaType && head == nullptr) head = &l;
  if (head == nullptr)
    return Error(Errc::bad_bundle, where.str() + ": the manifest names no bundle head (" +
                                       kOciHeadMediaType +
                                       "); publish the bundle there with "
                                       "`edgeforge publish --to oci://...`");
  if (head->size > max_bytes)
    return Error(Errc::bad_bundle, where.str() + ": a bundle head of " +
                                       std::to_string(head->size) + " bytes is over the limit");
  return registry.get_blob(head->digest, head->size);
}

}  // namespace ef::signing
