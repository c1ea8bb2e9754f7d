#include "cli/signing_commands.hpp"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "builder/build/bundle_output.hpp"
#include "cli/common.hpp"
#include "signing/bundle.hpp"
#include "signing/keyring.hpp"

namespace ef::cli {
namespace {

using nlohmann::json;

Result<signing::Algorithm> algorithm_option(const std::string& name) {
  if (name == "ed25519") return signing::Algorithm::ed25519;
  if (name == "ecdsa-p256" || name == "ecdsa-p256-sha256") {
    return signing::Algorithm::ecdsa_p256_sha256;
  }
  if (name == "rsa3072" || name == "rsa3072-pss-sha256") {
    return signing::Algorithm::rsa3072_pss_sha256;
  }
  return Error(Errc::invalid_argument,
               "--algorithm " + name + ": expected ed25519, ecdsa-p256 or rsa3072");
}

Result<std::optional<SemVer>> optional_version(const std::string& text, const char* option) {
  if (text.empty()) return std::optional<SemVer>{};
  auto v = SemVer::parse(text);
  if (!v) return v.error().with_context(option);
  return std::optional<SemVer>(*v);
}

json manifest_json(const signing::BundleManifest& m) {
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
          {"boot", boot}};
}

}  // namespace

void add_passphrase_options(CLI::App* cmd, signing::Passphrase& passphrase) {
  auto* file = cmd->add_option("--passphrase-file", passphrase.file,
                               "Read the private key's passphrase from the first line of FILE");
  auto* env = cmd->add_option("--passphrase-env", passphrase.env,
                              "Read the private key's passphrase from environment variable VAR");
  file->excludes(env);
}

SigningCommands::SigningCommands(CLI::App& app) {
  keygen_ = app.add_subcommand("keygen", "Make a signing key pair for bundles");
  keygen_->add_option("--out", out_dir_, "Directory for signing.key (0600) and signing.pub")
      ->required();
  keygen_->add_option("--algorithm", algorithm_, "ed25519 (default), ecdsa-p256 or rsa3072");
  add_passphrase_options(keygen_, passphrase_);
  keygen_->footer(
      "Prints the key ID: the sha256 of the public key's SubjectPublicKeyInfo (DER). Copy\n"
      "signing.pub into the devices' keyring directory; keep signing.key secret (or use an\n"
      "HSM: --key pkcs11:... wherever a key is taken).");

  bundle_ = app.add_subcommand("bundle", "Sign a squashfs image into an upgrade bundle (.efb)");
  bundle_->add_option("--image", image_, "Squashfs image (from edgeforge build)")
      ->required()
      ->check(CLI::ExistingFile);
  bundle_
      ->add_option("-k,--key", keys_,
                   "Signing key: PEM file or provider URI (pkcs11:...); repeat to sign with "
                   "several keys (key rotation)")
      ->required();
  bundle_->add_option("-o,--output", output_, "Bundle file (default: the image name with .efb)");
  bundle_->add_option("--build-manifest", build_manifest_,
                      "Build manifest of the image (default: IMAGE's .manifest.json, if present)");
  bundle_->add_option("--product", product_, "Product name (default: from the build manifest)");
  bundle_->add_option("--version", version_,
                      "Release version, semver (default: from the build manifest)");
  bundle_->add_option("--compatible", compatible_,
                      "Devices that may install it (default: profile spec.bundle.compatible, "
                      "else its name)");
  bundle_->add_option("--min-version", min_version_,
                      "Anti-rollback floor devices adopt (default: profile spec.bundle.minVersion, "
                      "else 0.0.0)");
  add_passphrase_options(bundle_, passphrase_);
  add_json_flag(bundle_, json_);

  verify_ = app.add_subcommand("verify", "Verify a bundle's signature, policy and payload");
  verify_->add_option("bundle", bundle_path_, "Bundle file (.efb)")->required();
  verify_
      ->add_option("--keyring", keyring_,
                   "Directory of trusted public keys (*.pub) and a 'revoked' list of key IDs")
      ->required();
  verify_->add_option("--compatible", compatible_, "Refuse bundles for other devices");
  verify_->add_option("--min-version", min_version_,
                      "Refuse versions below this anti-rollback floor");
  verify_->add_option("--installed-version", installed_version_,
                      "Refuse versions older than the installed one");
  verify_->add_flag("--allow-downgrade", allow_downgrade_,
                    "Accept a version older than --installed-version (never below the floor)");
  add_json_flag(verify_, json_);
  verify_->footer("Exit status 0 only when every check passes; docs/bundle-format.md lists them.");
}

std::optional<int> SigningCommands::run() const {
  if (*keygen_) return run_keygen();
  if (*bundle_) return run_bundle();
  if (*verify_) return run_verify();
  return std::nullopt;
}

int SigningCommands::run_keygen() const {
  auto algorithm = algorithm_option(algorithm_);
  if (!algorithm) return fail(algorithm.error(), false);
  auto id = signing::generate_key_files(out_dir_, *algorithm, passphrase_);
  if (!id) return fail(id.error(), false);
  std::cout << *id << "\n";
  std::cerr << "wrote " << (std::filesystem::path(out_dir_) / "signing.key").string() << " and "
            << (std::filesystem::path(out_dir_) / "signing.pub").string() << "\n";
  return 0;
}

int SigningCommands::run_bundle() const {
  build::BundleRequest r;
  r.image = image_;
  r.out = output_;
  r.build_manifest = build_manifest_;
  r.product = product_;
  r.compatible = compatible_;
  r.version = version_;
  r.min_version = min_version_;
  r.keys = keys_;
  r.passphrase = passphrase_;
  auto result = build::make_bundle(r);
  if (!result) return fail(result.error(), json_);
  if (json_) {
    std::cout << json({{"ok", true},
                       {"bundle", result->bundle.string()},
                       {"manifest", manifest_json(result->manifest)}})
                     .dump(2)
              << "\n";
  } else {
    std::cout << result->bundle.string() << "  " << result->manifest.product << " "
              << result->manifest.version.str() << " for \"" << result->manifest.compatible
              << "\"  verity root " << result->manifest.verity.root_hash_hex << "\n";
  }
  return 0;
}

int SigningCommands::run_verify() const {
  signing::VerifyPolicy policy;
  policy.compatible = compatible_;
  policy.allow_downgrade = allow_downgrade_;
  auto floor = optional_version(min_version_, "--min-version");
  if (!floor) return fail(floor.error(), json_);
  auto installed = optional_version(installed_version_, "--installed-version");
  if (!installed) return fail(installed.error(), json_);
  policy.min_version = *floor;
  policy.installed_version = *installed;
  auto ring = signing::Keyring::load(keyring_);
  if (!ring) return fail(ring.error(), json_);
  auto v = signing::verify_bundle(bundle_path_, *ring, policy);
  if (!v) return fail(v.error().with_context(bundle_path_), json_);
  const auto& m = v->manifest;
  if (json_) {
    std::cout << json({{"ok", true},
                       {"bundle", bundle_path_},
                       {"keyId", v->signature.key_id},
                       {"keyFile", v->signature.key_file.string()},
                       {"manifest", manifest_json(m)}})
                     .dump(2)
              << "\n";
  } else {
    std::cout << bundle_path_ << ": OK  " << m.product << " " << m.version.str() << " for \""
              << m.compatible << "\" (floor " << m.min_version.str() << "), signed by key "
              << v->signature.key_id << " (" << v->signature.key_file.string() << ")\n";
  }
  return 0;
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

}  // namespace ef::cli
