#include "agent/kernel_image.hpp"

#include "agent/bundle_source.hpp"
#include "util/atomic_file.hpp"
#include "util/pe_file.hpp"
#include "util/sha256.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;

// The unified kernel image's command line, "" when it has none.
Result<std::string> kernel_cmdline(std::string_view image) {
  EF_ASSIGN(pe::PeLayout layout, pe::parse(image));
  for (const pe::Section& s : layout.sections) {
    if (s.name != ".cmdline") continue;
    uint64_t size = std::min(s.virtual_size, s.raw_size);
    if (uint64_t{s.raw_offset} + size > image.size())
      return Error(Errc::bad_bundle, "the kernel image's .cmdline runs past its end");
    std::string line(image.substr(s.raw_offset, size));
    return line.substr(0, line.find('\0'));
  }
  return std::string();
}

}  // namespace

Result<void> install_kernel_image(const std::string& bundle, const HttpStreamOptions& http,
                                  const signing::BundleManifest& m, const fs::path& dir) {
  const signing::Attachment* wanted = m.attachment(kKernelImageRole);
  if (wanted == nullptr)
    return Error(Errc::refused, "the bundle carries no signed kernel image (" +
                                    std::string(kKernelImageRole) +
                                    "); build it from a profile with spec.secureBoot");
  // Attachments follow the payload in manifest order.
  uint64_t offset = m.payload.size;
  for (const auto& a : m.attachments) {
    if (&a == wanted) break;
    offset += a.size;
  }
  EF_ASSIGN(auto source, BundleSource::open(bundle, http));
  std::string bytes;
  bytes.reserve(wanted->size);
  EF_TRY(source->stream_payload(offset, wanted->size, [&](const char* p, size_t n) -> Result<void> {
    if (bytes.size() + n > wanted->size)
      return Error(Errc::bad_bundle, "more kernel image bytes than the manifest says");
    bytes.append(p, n);
    return Ok{};
  }));
  std::string digest = sha256_hex(bytes);
  if (bytes.size() != wanted->size || digest != wanted->sha256)
    return Error(Errc::checksum, bundle + ": kernel image " + wanted->name + " at offset " +
                                     std::to_string(offset) + " has sha256 " + digest +
                                     ", the manifest says " + wanted->sha256 +
                                     " (bundle altered or corrupt)");
  // The manifest signs the image's root hash; the kernel image must mount
  // that image, or the slot would not boot (dm-verity refuses every block).
  auto cmdline = kernel_cmdline(bytes);
  if (!cmdline) return std::move(cmdline).error().with_context("kernel image " + wanted->name);
  const std::string want = "edgeforge.verity=" + m.verity.root_hash_hex;
  size_t at = cmdline->find(want);
  if (at == std::string::npos ||
      (at + want.size() < cmdline->size() && (*cmdline)[at + want.size()] != ' '))
    return Error(Errc::bad_bundle, "kernel image " + wanted->name +
                                       " is not for this image: its command line does not carry "
                                       "the manifest's verity root hash " +
                                       m.verity.root_hash_hex);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "creating " + dir.string() + ": " + ec.message());
  EF_TRY(write_file_atomic(dir / "edgeforge.efi", bytes));
  // The entry switch must not reach the disk before this file does (see
  // install_boot_files): syncfs writes the directory and the FAT too.
  return sync_filesystem(dir);
}

}  // namespace ef::agent
