#include "iso/kernel_files.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "image/boot_files.hpp"
#include "image/squashfs_reader.hpp"

namespace ef::iso {
namespace {

// "kernel/fs/fat/vfat.ko.xz" -> "vfat"; modprobe treats '-' and '_' alike.
std::string module_name(const std::string& path) {
  std::string base = path.substr(path.rfind('/') + 1);
  base = base.substr(0, base.find(".ko"));
  std::replace(base.begin(), base.end(), '-', '_');
  return base;
}

Result<std::string> read_all(image::ImageReader& reader, const std::string& path) {
  std::string data;
  EF_TRY(reader.read_file(path, [&](const void* p, size_t n) -> Result<void> {
    data.append(static_cast<const char*>(p), n);
    return Ok{};
  }));
  return data;
}

}  // namespace

std::vector<std::string> default_boot_modules() {
  return {"squashfs", "overlay"};
}

Result<std::vector<std::string>> resolve_modules(const std::string& modules_dep,
                                                 const std::vector<std::string>& wanted) {
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> by_name;
  std::istringstream in(modules_dep);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string path = line.substr(0, colon);
    std::istringstream deps(line.substr(colon + 1));
    std::vector<std::string> dep_paths;
    for (std::string d; deps >> d;) dep_paths.push_back(d);
    by_name[module_name(path)] = {path, dep_paths};
  }
  std::vector<std::string> order;
  std::set<std::string> seen;
  for (const std::string& name : wanted) {
    auto it = by_name.find(module_name(name));
    if (it == by_name.end())
      return Error(Errc::not_found, "kernel module '" + name + "' is not in modules.dep");
    // modules.dep lists every (transitive) dependency, the first one loaded last.
    const auto& [path, deps] = it->second;
    for (auto d = deps.rbegin(); d != deps.rend(); ++d)
      if (seen.insert(*d).second) order.push_back(*d);
    if (seen.insert(path).second) order.push_back(path);
  }
  return order;
}

Result<KernelFiles> read_kernel_files(const std::filesystem::path& image,
                                      const std::vector<std::string>& modules) {
  EF_ASSIGN(auto reader, image::ImageReader::open(image));
  // The rule the bundle manifest follows too, so both boot the same kernel.
  EF_ASSIGN(auto chosen, image::find_boot_files(*reader));
  auto ctx = [&](const std::string& what) { return image.string() + ": " + what; };
  if (!chosen)
    return Error(Errc::not_found, ctx("no /boot/vmlinuz-* in the image; add a kernel package "
                                      "(e.g. linux-image-amd64) to the profile"));
  if (chosen->version.empty())
    return Error(Errc::invalid_argument,
                 ctx("the kernel " + chosen->kernel +
                     " has no version in its name, so its modules cannot be found; install it "
                     "as /boot/vmlinuz-VERSION"));
  KernelFiles files;
  files.version = chosen->version;
  auto vmlinuz = read_all(*reader, chosen->kernel);
  if (!vmlinuz) return std::move(vmlinuz).error().with_context(ctx("kernel"));
  files.vmlinuz = std::move(*vmlinuz);
  if (chosen->initrd.empty())
    return Error(Errc::not_found,
                 ctx("no /boot/initrd.img-" + files.version +
                     "; the image needs initramfs-tools (pulled in by linux-image-*)"));
  auto initrd = read_all(*reader, chosen->initrd);
  if (!initrd) return std::move(initrd).error().with_context(ctx("initrd"));
  files.initrd = std::move(*initrd);
  if (reader->exists(kImageCpioPath)) {
    auto cpio = read_all(*reader, kImageCpioPath);
    if (!cpio) return std::move(cpio).error().with_context(ctx(kImageCpioPath));
    files.image_cpio = std::move(*cpio);
  }
  for (const char* os_release : {"/usr/lib/os-release", "/etc/os-release"}) {
    if (!reader->exists(os_release)) continue;
    auto text = read_all(*reader, os_release);
    if (!text) continue;  // e.g. a symlink: the next candidate
    files.os_release = std::move(*text);
    break;
  }
  if (modules.empty()) return files;

  std::string moddir = "/usr/lib/modules/" + files.version;
  if (!reader->exists(moddir + "/modules.dep")) moddir = "/lib/modules/" + files.version;
  auto dep = read_all(*reader, moddir + "/modules.dep");
  if (!dep) return std::move(dep).error().with_context(ctx("modules.dep"));
  auto order = resolve_modules(*dep, modules);
  if (!order) return std::move(order).error().with_context(ctx(moddir));
  for (const std::string& rel : *order) {
    auto content = read_all(*reader, moddir + "/" + rel);
    if (!content) return std::move(content).error().with_context(ctx(rel));
    files.modules.push_back({rel.substr(rel.rfind('/') + 1), std::move(*content)});
  }
  return files;
}

}  // namespace ef::iso
