#include "builder/build/disk_outputs.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "builder/profile/output_format.hpp"
#include "device/site.hpp"
#include "iso/disk_image.hpp"
#include "iso/initramfs.hpp"
#include "iso/installer_iso.hpp"
#include "signing/authenticode.hpp"
#include "signing/verity.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::build {
namespace {

iso::DiskLayout disk_layout(const profile::Profile& p) {
  return {p.output.esp_mib * iso::kMiB, p.output.slot_mib * iso::kMiB,
          p.output.persistent_mib * iso::kMiB};
}

// spec.secureBoot: the slot's dm-verity tree (written to `work`) and a
// signer holding the operator's db key.
Result<iso::SecureBootSpec> secure_boot_spec(const profile::Profile& p,
                                             const std::filesystem::path& image,
                                             const std::string& image_sha256,
                                             const std::filesystem::path& work) {
  auto where = [&](Error e) {
    return std::move(e).with_context(p.secure_boot.loc.str() + ": spec.secureBoot");
  };
  auto signer = signing::PeSigner::load(p.secure_boot.key, p.secure_boot.certificate);
  if (!signer) return where(std::move(signer).error());
  std::error_code ec;
  std::filesystem::create_directories(work, ec);
  iso::SecureBootSpec sb;
  sb.plain_without_tpm = p.secure_boot.without_tpm == profile::SecureBoot::WithoutTpm::unencrypted;
  sb.verity_tree = work / "verity.tree";
  // The same tree (salt derived from the image) a bundle of this image carries.
  // The salt from the digest the build already has: one read of the image.
  signing::VerityParams params;
  if (!image_sha256.empty()) params.salt_hex = signing::default_verity_salt_hex(image_sha256);
  EF_ASSIGN(auto tree, signing::build_verity_tree(image, sb.verity_tree, 0, params));
  sb.verity = {tree.root_hash_hex, tree.salt_hex, tree.data_blocks,
               tree.data_blocks * tree.data_block_size};
  auto shared = std::make_shared<signing::PeSigner>(std::move(*signer));
  sb.sign = [shared](std::string_view pe) { return shared->sign(pe); };
  return sb;
}

}  // namespace

std::vector<std::string> persistent_paths_of(const profile::Profile& p) {
  std::vector<std::string> paths = iso::default_persistent_paths();
  for (const auto& path : p.output.persistent_paths)
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
  return paths;
}

Result<DiskOutputs> write_disk_outputs(const profile::Profile& p, const Release& release,
                                       const std::filesystem::path& image,
                                       const std::vector<std::string>& formats,
                                       const std::string& formats_origin,
                                       const std::function<void(const std::string&)>& stage) {
  const int64_t epoch = release.epoch.value_or(0);
  const std::string& image_sha256 = release.image_sha256;
  using profile::OutputFormat;
  for (const auto& f : formats)
    if (!profile::parse_output_format(f))
      return Error(Errc::invalid_argument, formats_origin + f +
                                               ": unknown output format (expected " +
                                               profile::output_format_list() + ")");
  auto failed = [&](Error e, OutputFormat format) {
    return std::move(e).with_context(formats_origin + profile::output_format_name(format));
  };
  auto wants = [&](OutputFormat f) {
    return std::find(formats.begin(), formats.end(), profile::output_format_name(f)) !=
           formats.end();
  };
  DiskOutputs out;
  if (p.secure_boot.enabled() && wants(OutputFormat::iso))
    return Error(Errc::invalid_argument,
                 formats_origin +
                     "iso: the installer ISO is not signed for Secure Boot yet; with "
                     "spec.secureBoot build raw or qcow2 (docs/verified-boot.md)");
  // spec.secureBoot: the slot's signed kernel image, beside the image for
  // bundles (whatever the formats) and the disk alike.
  std::optional<iso::SecureBootSpec> secure_boot;
  std::filesystem::path sb_work = image.parent_path() / ("." + image.stem().string() + ".sb-work");
  struct RemoveWork {
    std::filesystem::path dir;
    ~RemoveWork() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_sb_work{sb_work};
  if (p.secure_boot.enabled()) {
    stage("signing the boot chain");
    EF_ASSIGN(secure_boot, secure_boot_spec(p, image, image_sha256, sb_work));
    std::string cmdline = iso::uki_cmdline(*secure_boot, iso::kDefaultCmdline);
    auto uki = iso::signed_kernel_image(image, *secure_boot, cmdline, sb_work);
    if (!uki)
      return std::move(uki).error().with_context(p.secure_boot.loc.str() + ": spec.secureBoot");
    std::filesystem::path efi = image;
    efi.replace_extension(".efi");
    EF_TRY(write_file_atomic(efi, *uki));
    secure_boot->kernel_image = efi;
    out.files.push_back(efi);
    out.kernel_image_record = {{"file", efi.filename().string()},
                               {"sha256", sha256_hex(*uki)},
                               {"cmdline", cmdline},
                               {"verityRootHash", secure_boot->verity.root_hash_hex}};
  }
  if (wants(OutputFormat::iso)) {
    std::filesystem::path iso_out = image;
    iso_out.replace_extension(".iso");
    std::filesystem::path work = image.parent_path() / ("." + image.stem().string() + ".iso-work");
    stage("writing installer ISO");
    if (!p.output.installer_site.empty()) {
      // A broken site file must fail here, not on the device during the install.
      EF_ASSIGN(auto text, read_file(p.output.installer_site));
      auto parsed = site::parse_site(text, p.output.installer_site.string());
      if (!parsed)
        return std::move(parsed).error().with_context(p.file.string() +
                                                      ": spec.output.installerSite");
    }
    iso::IsoSpec spec;
    spec.squashfs = image;
    spec.image_sha256 = image_sha256;
    spec.sbom_sha256 = release.sbom_sha256;
    spec.epoch = epoch;
    spec.site = p.output.installer_site;
    spec.layout = disk_layout(p);
    spec.persistent_paths = persistent_paths_of(p);
    spec.product = release.name;
    spec.version = release.version.str();
    spec.min_version = release.min_version.str();
    // The same rule the build-time site layer follows (builder/cluster).
    spec.site_registries = site::registry_target_name(
        site::registry_target_for(p.kubernetes ? p.kubernetes->distribution : ""));
    auto info = iso::build_installer_iso(spec, iso_out, work);
    std::error_code ec;
    std::filesystem::remove_all(work, ec);
    if (!info) return failed(std::move(info).error(), OutputFormat::iso);
    spdlog::debug("ISO image written in {:.2f} s, after its boot files", info->write_seconds);
    out.files.push_back(iso_out);
    out.iso_record = {
        {"file", iso_out.filename().string()}, {"volumeId", info->volume_id}, {"size", info->size}};
    if (!spec.site.empty()) out.iso_record["installerSite"] = spec.site.filename().string();
  }
  if (!wants(OutputFormat::raw) && !wants(OutputFormat::qcow2)) return out;

  iso::DiskSpec spec;
  spec.squashfs = image;
  spec.image_sha256 = image_sha256;
  spec.layout = disk_layout(p);
  spec.epoch = epoch;
  spec.persistent_paths = persistent_paths_of(p);

  std::filesystem::path raw = image;
  raw.replace_extension(".raw");
  std::filesystem::path work = image.parent_path() / ("." + image.stem().string() + ".disk-work");
  spec.secure_boot = secure_boot;
  stage("writing raw disk image");
  auto info = iso::build_raw_disk(spec, raw, work);
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  if (!info)
    return failed(std::move(info).error(),
                  wants(OutputFormat::raw) ? OutputFormat::raw : OutputFormat::qcow2);
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& part : info->partitions)
    parts.push_back(
        {{"name", part.name}, {"offset", part.offset}, {"size", part.size}, {"guid", part.guid}});
  out.record = {{"diskGuid", info->disk_guid},
                {"size", info->size},
                {"espUuid", info->esp_uuid},
                {"partitions", parts},
                {"persistentPaths", spec.persistent_paths}};
  if (spec.secure_boot)
    out.record["secureBoot"] = {{"bootManager", "systemd-boot"},
                                {"verityRootHash", spec.secure_boot->verity.root_hash_hex}};
  if (wants(OutputFormat::qcow2)) {
    stage("converting to qcow2");
    std::filesystem::path qcow = image;
    qcow.replace_extension(".qcow2");
    auto converted = iso::convert_to_qcow2(raw, qcow);
    if (!converted) return failed(std::move(converted).error(), OutputFormat::qcow2);
    out.files.push_back(qcow);
  }
  if (wants(OutputFormat::raw)) {
    out.files.push_back(raw);
  } else {
    std::filesystem::remove(raw, ec);
  }
  return out;
}

}  // namespace ef::build
