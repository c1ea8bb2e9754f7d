#include "iso/uki.hpp"

#include "util/atomic_file.hpp"
#include "util/pe_file.hpp"

namespace ef::iso {

Result<std::string> build_uki(const UkiParts& parts) {
  auto stub = read_file(parts.stub);
  if (!stub) return std::move(stub).error().with_context("UKI stub");
  auto kernel = read_file(parts.kernel);
  if (!kernel) return std::move(kernel).error().with_context("UKI kernel");
  if (kernel->empty())
    return Error(Errc::invalid_argument, "UKI kernel " + parts.kernel.string() + " is empty");
  std::string initrd;
  for (const auto& path : parts.initrds) {
    auto part = read_file(path);
    if (!part) return std::move(part).error().with_context("UKI initrd");
    // The kernel finds a cpio archive only at a 4-byte boundary and skips
    // the zeros before it (GRUB's `initrd A B` pads the same way); Debian's
    // initrd.img ends wherever its compressed stream ends.
    initrd.resize((initrd.size() + 3) / 4 * 4, '\0');
    initrd += *part;
  }

  // The stub looks its parts up by name; it takes the kernel command line
  // from the boot loader only when .cmdline is absent, so an empty one is
  // left out rather than added empty.
  std::vector<pe::NewSection> sections;
  if (!parts.os_release.empty()) sections.push_back({".osrel", parts.os_release});
  if (!parts.cmdline.empty()) sections.push_back({".cmdline", parts.cmdline});
  sections.push_back({".linux", std::move(*kernel)});
  if (!initrd.empty()) sections.push_back({".initrd", std::move(initrd)});
  auto uki = pe::add_sections(*stub, sections);
  if (!uki) return std::move(uki).error().with_context("UKI stub " + parts.stub.string());
  return uki;
}

}  // namespace ef::iso
