#include "device/install_manifest.hpp"

#include <nlohmann/json.hpp>

#include "util/json_fields.hpp"

namespace ef::device {
namespace {

using nlohmann::json;

constexpr uint64_t kSector = 512;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr int kFormatVersion = 1;

}  // namespace

const PlannedPartition* InstallManifest::partition(const std::string& name) const {
  for (const auto& p : partitions)
    if (p.name == name) return &p;
  return nullptr;
}

std::string render_install_manifest(const InstallManifest& m) {
  json parts = json::array();
  for (const auto& p : m.partitions)
    parts.push_back({{"name", p.name},
                     {"offset", p.offset},
                     {"size", p.size},
                     {"guid", p.guid},
                     {"type", p.type}});
  json files = json::array();
  for (const auto& f : m.esp_files)
    files.push_back(
        {{"path", f.path}, {"source", f.source}, {"sha256", f.sha256}, {"size", f.size}});
  json bios = json::array();
  for (const auto& f : m.bios_files)
    bios.push_back(
        {{"path", f.path}, {"source", f.source}, {"sha256", f.sha256}, {"size", f.size}});
  json j = {
      {"formatVersion", kFormatVersion},
      {"bios", bios},
      {"product", m.product},
      {"version", m.version},
      {"minVersion", m.min_version},
      {"image", {{"file", kMediumImagePath}, {"sha256", m.image_sha256}, {"size", m.image_size}}},
      {"disk", {{"guid", m.disk_guid}, {"size", m.disk_size}, {"partitions", parts}}},
      {"esp", {{"label", m.esp_label}, {"volumeId", m.esp_volume_id}, {"files", files}}},
      {"siteRegistries", m.site_registries},
      {"persistent",
       {{"label", m.persistent_label},
        {"uuid", m.persistent_uuid},
        {"hashSeed", m.persistent_hash_seed}}}};
  if (!m.sbom_sha256.empty()) j["image"]["sbomSha256"] = m.sbom_sha256;
  return j.dump(2) + "\n";  // nlohmann's object is a sorted map
}

Result<InstallManifest> parse_install_manifest(const std::string& text, const std::string& label) {
  json j = json::parse(text, nullptr, false);
  auto bad = [&](const std::string& why) {
    return Error(Errc::invalid_argument,
                 label + ": " + why +
                     " (the installer medium is damaged or was made by another "
                     "edgeforge version; rebuild the ISO)");
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  InstallManifest m;
  try {
    if (json_integer<int>(j.at("formatVersion")) != kFormatVersion)
      return bad("unknown formatVersion");
    m.product = j.at("product").get<std::string>();
    m.version = j.at("version").get<std::string>();
    m.min_version = j.at("minVersion").get<std::string>();
    m.image_sha256 = j.at("image").at("sha256").get<std::string>();
    m.image_size = json_integer<uint64_t>(j.at("image").at("size"));
    if (j.at("image").contains("sbomSha256"))
      m.sbom_sha256 = j.at("image").at("sbomSha256").get<std::string>();
    m.disk_guid = j.at("disk").at("guid").get<std::string>();
    m.disk_size = json_integer<uint64_t>(j.at("disk").at("size"));
    for (const auto& p : j.at("disk").at("partitions"))
      m.partitions.push_back({p.at("name").get<std::string>(),
                              json_integer<uint64_t>(p.at("offset")),
                              json_integer<uint64_t>(p.at("size")), p.at("guid").get<std::string>(),
                              p.at("type").get<std::string>()});
    m.esp_label = j.at("esp").at("label").get<std::string>();
    m.esp_volume_id = j.at("esp").at("volumeId").get<std::string>();
    for (const auto& f : j.at("esp").at("files"))
      m.esp_files.push_back({f.at("path").get<std::string>(), f.at("source").get<std::string>(),
                             f.at("sha256").get<std::string>(),
                             json_integer<uint64_t>(f.at("size"))});
    m.site_registries = j.at("siteRegistries").get<std::string>();
    for (const auto& f : j.at("bios"))
      m.bios_files.push_back({f.at("path").get<std::string>(), f.at("source").get<std::string>(),
                              f.at("sha256").get<std::string>(),
                              json_integer<uint64_t>(f.at("size"))});
    m.persistent_label = j.at("persistent").at("label").get<std::string>();
    m.persistent_uuid = j.at("persistent").at("uuid").get<std::string>();
    m.persistent_hash_seed = j.at("persistent").at("hashSeed").get<std::string>();
  } catch (const json::exception& e) {
    return bad(std::string("incomplete: ") + e.what());
  }
  for (const char* name :
       {"edgeforge-esp", "edgeforge-slot-a", "edgeforge-slot-b", "edgeforge-persist"})
    if (!m.partition(name)) return bad(std::string("no partition ") + name);
  for (const auto& p : m.partitions)
    if (p.name != kBiosLabel && (p.offset % kMiB != 0 || p.size % kMiB != 0 || p.size == 0))
      return bad("partition " + p.name + " is not 1 MiB aligned");
  if (m.esp_volume_id.size() != 9 || m.esp_volume_id[4] != '-') return bad("bad esp.volumeId");
  if (m.image_size > m.partition("edgeforge-slot-a")->size)
    return bad("the image does not fit slot A");
  return m;
}

std::string sfdisk_script(const std::string& disk_guid,
                          const std::vector<PlannedPartition>& partitions) {
  std::string script = "label: gpt\nlabel-id: " + disk_guid +
                       "\nunit: sectors\nfirst-lba: " + std::to_string(kBiosFirstLba) + "\n";
  for (const auto& p : partitions)
    script += "start=" + std::to_string(p.offset / kSector) +
              ", size=" + std::to_string(p.size / kSector) + ", type=" + p.type +
              ", uuid=" + p.guid + ", name=\"" + p.name + "\"\n";
  return script;
}

}  // namespace ef::device
