#include "builder/build/bundle_output.hpp"

#include <nlohmann/json.hpp>
#include <system_error>

#include "builder/build/disk_outputs.hpp"
#include "builder/sbom/sbom.hpp"
#include "image/boot_files.hpp"
#include "image/squashfs_reader.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::build {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Result<signing::BootFile> describe(image::ImageReader& reader, const std::string& role,
                                   const std::string& path) {
  Sha256 hash;
  uint64_t size = 0;
  EF_TRY(reader.read_file(path, [&](const void* p, size_t n) -> Result<void> {
    hash.update(p, n);
    size += n;
    return Ok{};
  }));
  return signing::BootFile{role, path, size, hash.hex_digest()};
}

Result<json> read_build_manifest(const BundleRequest& r) {
  fs::path path = r.build_manifest;
  if (path.empty()) {
    fs::path guess = r.image;
    guess.replace_extension(".manifest.json");
    std::error_code ec;
    if (!fs::exists(guess, ec)) return json::object();
    path = guess;
  }
  EF_ASSIGN(std::string text, read_file(path));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::invalid_argument, path.string() + ": not an edgeforge build manifest");
  }
  return j;
}

std::string from_manifest(const json& m, const char* section, const char* key) {
  if (!m.contains(section) || !m[section].is_object()) return "";
  const json& s = m[section];
  return s.contains(key) && s[key].is_string() ? s[key].get<std::string>() : "";
}

// The SBOM and provenance the build manifest names, beside the image and
// unchanged since the build (their digests are in the manifest).
Result<std::vector<signing::AttachmentFile>> build_attachments(const json& built,
                                                               const fs::path& image) {
  std::vector<signing::AttachmentFile> out;
  struct Doc {
    const char* section;
    const char* role;
  };
  for (const Doc& d :
       {Doc{"sbom", "sbom"}, Doc{"provenance", "provenance"}, Doc{"kernelImage", "kernel-image"}}) {
    std::string file = from_manifest(built, d.section, "file");
    if (file.empty() || file.find('/') != std::string::npos) continue;
    fs::path path = image.parent_path() / file;
    std::error_code ec;
    if (!fs::exists(path, ec))
      return Error(Errc::not_found, path.string() + ": the build manifest names this " + d.section +
                                        " of the image, and it is not there (copy "
                                        "it beside the image)");
    EF_ASSIGN(std::string digest, sha256_file(path));
    std::string want = from_manifest(built, d.section, "sha256");
    if (digest != want)
      return Error(Errc::checksum, path.string() + " has sha256 " + digest +
                                       ", the build manifest says " + want +
                                       " (it is not the document of this build)");
    std::string format = from_manifest(built, d.section, "format");
    std::string type = std::string(d.role) == "kernel-image" ? kKernelImageMediaType
                       : std::string(d.role) == "provenance" ? kProvenanceMediaType
                       : format.rfind("cyclonedx", 0) == 0
                           ? sbom::media_type(sbom::Format::cyclonedx)
                           : sbom::media_type(sbom::Format::spdx);
    out.push_back({d.role, type, path});
  }
  return out;
}

// A required version option (not empty): errors start with the option.
Result<SemVer> version_option(const std::string& text, const char* option) {
  auto v = SemVer::parse(text);
  if (!v) return v.error().with_context(option);
  return v;
}

}  // namespace

Result<std::vector<signing::BootFile>> find_boot_files(const fs::path& image) {
  EF_ASSIGN(auto reader, image::ImageReader::open(image));
  EF_ASSIGN(auto chosen, image::find_boot_files(*reader));
  std::vector<signing::BootFile> out;
  if (!chosen) return out;
  EF_ASSIGN(auto kernel, describe(*reader, "kernel", chosen->kernel));
  out.push_back(std::move(kernel));
  if (!chosen->initrd.empty()) {
    EF_ASSIGN(auto initrd, describe(*reader, "initrd", chosen->initrd));
    out.push_back(std::move(initrd));
  }
  return out;
}

Result<signing::BundleManifest> write_bundle(
    const Release& release, const fs::path& image, const SigningKeys& keys, const fs::path& out,
    const std::vector<signing::AttachmentFile>& attachments) {
  signing::BundleInputs in;
  in.image = image;
  in.product = release.name;
  in.compatible = release.compatible;
  in.version = release.version;
  in.min_version = release.min_version;
  in.epoch = static_cast<uint64_t>(release.epoch.value_or(0));
  in.boot = release.boot;
  in.attachments = attachments;
  std::vector<const signing::SigningKey*> key_ptrs;
  for (const auto& k : keys) key_ptrs.push_back(k.get());
  return signing::create_bundle(in, key_ptrs, out);
}

Result<BundleResult> make_bundle(const BundleRequest& r) {
  if (r.keys.empty()) {
    return Error(Errc::invalid_argument, "no signing key given (--key FILE or --key pkcs11:...)");
  }
  EF_ASSIGN(json built, read_build_manifest(r));
  Release release;
  release.name = !r.product.empty() ? r.product : from_manifest(built, "profile", "name");
  std::string version = !r.version.empty() ? r.version : from_manifest(built, "profile", "version");
  release.compatible =
      !r.compatible.empty() ? r.compatible : from_manifest(built, "bundle", "compatible");
  std::string floor =
      !r.min_version.empty() ? r.min_version : from_manifest(built, "bundle", "minVersion");
  if (version.empty() || release.name.empty()) {
    return Error(Errc::invalid_argument,
                 r.image.string() +
                     ": no build manifest beside the image; give --product and "
                     "--version (and --compatible)");
  }
  if (release.compatible.empty()) release.compatible = release.name;
  EF_ASSIGN(release.version, version_option(version, "--version"));
  EF_ASSIGN(release.min_version, version_option(floor.empty() ? "0.0.0" : floor, "--min-version"));
  {
    EF_ASSIGN(auto reader, image::ImageReader::open(r.image));
    release.epoch = reader->info().mod_time;
  }
  EF_ASSIGN(release.boot, find_boot_files(r.image));
  EF_ASSIGN(auto keys, load_signing_keys(r.keys, r.passphrase, "signing key"));

  BundleResult result;
  result.bundle = r.out;
  if (result.bundle.empty()) {
    result.bundle = r.image;
    result.bundle.replace_extension(".efb");
  }
  EF_ASSIGN(auto attachments, build_attachments(built, r.image));
  EF_ASSIGN(result.manifest, write_bundle(release, r.image, keys, result.bundle, attachments));
  return result;
}

}  // namespace ef::build
