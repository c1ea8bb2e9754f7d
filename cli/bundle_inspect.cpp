#include "cli/bundle_inspect.hpp"

#include <fstream>

#include "signing/keyring.hpp"

namespace ef::cli {

using nlohmann::json;

json manifest_json(const signing::BundleManifest& m) {
  json attachments = json::array();
  for (const auto& a : m.attachments)
    attachments.push_back({{"role", a.role},
                           {"name", a.name},
                           {"mediaType", a.media_type},
                           {"size", a.size},
                           {"sha256", a.sha256}});
  json boot = json::array();
  for (const auto& b : m.boot) {
    boot.push_back({{"role", b.role}, {"path", b.path}, {"size", b.size}, {"sha256", b.sha256}});
  }
  return {{"product", m.product},
          {"compatible", m.compatible},
          {"version", m.version.str()},
          {"minVersion", m.min_version.str()},
          {"epoch", m.epoch},
          {"image", {{"size", m.image.size}, {"sha256", m.image.sha256}}},
          {"payload", {{"size", m.payload.size}, {"sha256", m.payload.sha256}}},
          {"verity",
           {{"rootHash", m.verity.root_hash_hex},
            {"salt", m.verity.salt_hex},
            {"dataBlocks", m.verity.data_blocks},
            {"hashOffset", m.verity.hash_offset},
            {"treeSize", m.verity.tree_size}}},
          {"boot", boot},
          {"attachments", attachments}};
}

bool is_bundle_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof magic);
  return in && std::string_view(magic, sizeof magic) == signing::kBundleMagic;
}

Result<void> inspect_bundle(const std::string& path, const std::string& keyring, bool as_json,
                            std::ostream& out) {
  EF_ASSIGN(signing::Bundle bundle, signing::Bundle::open(path));
  EF_ASSIGN(signing::BundleManifest m, bundle.manifest());
  std::optional<signing::Keyring> ring;
  if (!keyring.empty()) {
    EF_ASSIGN(auto loaded, signing::Keyring::load(keyring));
    ring.emplace(std::move(loaded));
  }
  json sigs = json::array();
  for (const auto& s : bundle.signatures()) {
    json j = {{"algorithm", s.algorithm}, {"keyId", s.key_id}};
    if (ring) {
      const signing::TrustedKey* key = ring->find(s.key_id);
      j["keyringKey"] = key ? json(key->file.string()) : json(nullptr);
      j["revoked"] = ring->is_revoked(s.key_id);
      j["valid"] = key != nullptr && key->key.verify(bundle.manifest_bytes(), s.signature);
    }
    sigs.push_back(j);
  }
  const auto& h = bundle.header();
  json header = {{"formatVersion", h.format_version},
                 {"manifestSize", h.manifest_size},
                 {"signaturesSize", h.signatures_size},
                 {"payloadOffset", h.payload_offset},
                 {"payloadSize", h.payload_size}};
  if (as_json) {
    out << json({{"header", header}, {"manifest", manifest_json(m)}, {"signatures", sigs}}).dump(2)
        << "\n";
    return Ok{};
  }
  out << "bundle " << path << " (format " << h.format_version << ", payload " << h.payload_size
      << " bytes at offset " << h.payload_offset << ")\n"
      << "product     " << m.product << " " << m.version.str() << "\n"
      << "compatible  " << m.compatible << "\n"
      << "min version " << m.min_version.str() << "\n"
      << "epoch       " << m.epoch << "\n"
      << "image       " << m.image.size << " bytes  sha256 " << m.image.sha256 << "\n"
      << "payload     " << m.payload.size << " bytes  sha256 " << m.payload.sha256 << "\n"
      << "verity      root " << m.verity.root_hash_hex << "  salt " << m.verity.salt_hex
      << "  tree " << m.verity.tree_size << " bytes at " << m.verity.hash_offset << "\n";
  for (const auto& b : m.boot) {
    out << "boot        " << b.role << " " << b.path << "  " << b.size << " bytes  sha256 "
        << b.sha256 << "\n";
  }
  for (const auto& a : m.attachments) {
    out << "attachment  " << a.role << " " << a.name << " (" << a.media_type << ")  " << a.size
        << " bytes  sha256 " << a.sha256 << "\n";
  }
  for (size_t i = 0; i < sigs.size(); ++i) {
    const json& s = sigs[i];
    out << "signature " << i + 1 << " " << s["algorithm"].get<std::string>() << " key "
        << s["keyId"].get<std::string>();
    if (ring) {
      if (s["keyringKey"].is_null()) {
        out << "  not in keyring";
      } else {
        out << "  keyring " << s["keyringKey"].get<std::string>()
            << (s["revoked"].get<bool>() ? " (REVOKED)" : "")
            << (s["valid"].get<bool>() ? " valid" : " INVALID");
      }
    }
    out << "\n";
  }
  return Ok{};
}

Result<void> inspect_attachment(const std::string& path, const std::string& role,
                                const std::string& keyring, std::ostream& out) {
  EF_ASSIGN(signing::Bundle bundle, signing::Bundle::open(path));
  if (!keyring.empty()) {
    EF_ASSIGN(auto ring, signing::Keyring::load(keyring));
    EF_TRY(bundle.check_signatures(ring));
  }
  EF_ASSIGN(signing::BundleManifest m, bundle.manifest());
  EF_ASSIGN(std::string bytes, signing::read_attachment(bundle, m, role));
  out << bytes;
  return Ok{};
}

}  // namespace ef::cli
