#include "agent/install_target.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/slot_writer.hpp"
#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;

std::string read_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

bool ignored_disk(const std::string& name) {
  for (const char* prefix : {"loop", "ram", "zram", "sr", "dm-", "md", "fd", "nbd"})
    if (name.starts_with(prefix)) return true;
  return false;
}

// sysfs directories of `disk`'s partitions (they hold a "partition" file).
std::vector<fs::path> partition_dirs(const fs::path& disk_dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(disk_dir, ec))
    if (fs::exists(e.path() / "partition", ec)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string uevent_value(const fs::path& dir, const std::string& key) {
  std::ifstream in(dir / "uevent");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(key + "=")) return line.substr(key.size() + 1);
  return "";
}

// The sysfs directory of device `dev` (major:minor), resolved.
fs::path sysfs_of(dev_t dev, const fs::path& sys_root) {
  std::error_code ec;
  fs::path p =
      sys_root / "dev/block" / (std::to_string(major(dev)) + ":" + std::to_string(minor(dev)));
  fs::path real = fs::canonical(p, ec);
  return ec ? fs::path() : real;
}

// The whole disk's sysfs directory for a device's directory (a partition's parent).
fs::path whole_disk_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "partition", ec) ? dir.parent_path() : dir;
}

Result<void> run_tool(const std::vector<std::string>& argv, const std::string& package,
                      std::string* out = nullptr) {
  ProcessOptions opts;
  opts.apt_package = package;
  opts.capture_stdout = out != nullptr;
  EF_ASSIGN(auto res, run_process(argv, opts));
  if (!res.success()) return process_failure(argv, res);
  if (out) *out = std::move(res.stdout_data);
  return Ok{};
}

// File system and partition table signatures wipefs finds on `target`.
Result<std::vector<std::string>> signatures(const fs::path& target) {
  std::string out;
  EF_TRY(run_tool({"wipefs", "--json", target.string()}, "util-linux", &out));
  std::vector<std::string> found;
  if (out.find_first_not_of(" \n") == std::string::npos) return found;  // nothing: no output
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("signatures"))
    return Error(Errc::subprocess, "wipefs --json " + target.string() + ": unexpected output");
  for (const auto& s : j["signatures"]) {
    std::string type = s.value("type", "?");  // a GPT has two headers: name it once
    if (std::find(found.begin(), found.end(), type) == found.end()) found.push_back(type);
  }
  return found;
}

// Mount points of `disk` or its partitions (/proc/self/mounts sources).
std::vector<std::string> mounts_of(const std::string& disk) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mounts");
  std::string src, dir, rest;
  while (in >> src >> dir && std::getline(in, rest))
    if (src == "/dev/" + disk || (src.starts_with("/dev/" + disk) && src.size() > disk.size() + 5 &&
                                  std::isdigit(static_cast<unsigned char>(src.back()))))
      out.push_back(dir);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<DiskFacts> list_disks(const fs::path& sys_root) {
  std::vector<DiskFacts> disks;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(sys_root / "block", ec)) {
    std::string name = e.path().filename().string();
    if (ignored_disk(name)) continue;
    DiskFacts d;
    d.name = name;
    d.size = std::strtoull(read_line(e.path() / "size").c_str(), nullptr, 10) * 512;
    if (d.size == 0) continue;
    d.removable = read_line(e.path() / "removable") == "1";
    for (const auto& p : partition_dirs(e.path()))
      d.partition_labels.push_back(uevent_value(p, "PARTNAME"));
    disks.push_back(std::move(d));
  }
  std::sort(disks.begin(), disks.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return disks;
}

std::string disk_holding(const fs::path& path, const fs::path& sys_root) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || major(st.st_dev) == 0) return "";
  fs::path dir = sysfs_of(st.st_dev, sys_root);
  if (dir.empty()) return "";
  return whole_disk_dir(dir).filename().string();
}

Result<std::string> pick_auto_target(const std::vector<DiskFacts>& disks,
                                     const std::string& medium_disk) {
  std::vector<std::string> candidates, all;
  for (const auto& d : disks) {
    all.push_back(d.name + (d.removable ? " (removable)" : "") +
                  (d.name == medium_disk ? " (installer medium)" : ""));
    if (!d.removable && d.name != medium_disk) candidates.push_back(d.name);
  }
  if (candidates.size() == 1) return "/dev/" + candidates[0];
  if (candidates.empty())
    return Error(Errc::not_found, "target auto: no internal disk found (disks: " +
                                      (all.empty() ? std::string("none") : join(all)) +
                                      "); give install.target or --target");
  return Error(Errc::invalid_argument, "target auto: several internal disks (" + join(candidates) +
                                           "); choose one with install.target or --target");
}

Result<void> check_target(const fs::path& target, const TargetCheck& check,
                          const fs::path& sys_root) {
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0)
    return errno_error(Errc::not_found, "target " + target.string(), errno);
  std::string t = target.string();
  if (S_ISBLK(st.st_mode)) {
    fs::path dir = sysfs_of(st.st_rdev, sys_root);
    if (dir.empty())
      return Error(Errc::not_found, "target " + t + ": the kernel does not list it in sysfs");
    std::error_code ec;
    if (fs::exists(dir / "partition", ec))
      return Error(Errc::invalid_argument, "target " + t +
                                               " is a partition; give the whole disk (e.g. /dev/" +
                                               dir.parent_path().filename().string() + ")");
    std::string name = dir.filename().string();
    if (!check.medium_disk.empty() && name == check.medium_disk)
      return Error(Errc::refused,
                   "target " + t + " holds the installer medium itself; choose another disk");
    if (auto m = mounts_of(name); !m.empty())
      return Error(Errc::refused,
                   "target " + t + " is in use (mounted at " + join(m) + "); unmount it first");
    auto parts = partition_dirs(dir);
    for (const auto& p : parts)
      if (check.refuse_edgeforge && uevent_value(p, "PARTNAME").starts_with("edgeforge-"))
        return Error(
            Errc::refused,
            "target " + t +
                " already holds an edgeforge installation; an unattended install never "
                "replaces one (remove the installer medium, or boot its live system and run "
                "'edgeforge-agent install --target " +
                t + " --wipe')");
    if (!parts.empty() && !check.wipe)
      return Error(Errc::refused,
                   "target " + t + " holds " + std::to_string(parts.size()) +
                       " partition(s); nothing was written (use --wipe, or install.wipe: true, "
                       "to erase the disk)");
  } else if (!S_ISREG(st.st_mode)) {
    return Error(Errc::invalid_argument,
                 "target " + t + " is neither a disk nor a disk image file");
  }
  EF_ASSIGN(uint64_t size, slot_capacity(target));
  if (size < check.min_size)
    return Error(Errc::invalid_argument,
                 "target " + t + " has " + std::to_string(size >> 20) + " MiB; the layout needs " +
                     std::to_string(check.min_size >> 20) +
                     " MiB (choose a larger disk or smaller spec.output.disk sizes)");
  EF_ASSIGN(auto sigs, signatures(target));
  if (!sigs.empty() && !check.wipe)
    return Error(Errc::refused,
                 "target " + t + " holds data (" + join(sigs) +
                     "); nothing was written (use --wipe, or install.wipe: true, to erase it)");
  return Ok{};
}

Result<PartitionDevices> PartitionDevices::open(const fs::path& target,
                                                const std::vector<Range>& partitions,
                                                const fs::path& sys_root) {
  PartitionDevices out;
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) return errno_error(Errc::not_found, target.string(), errno);
  if (!S_ISBLK(st.st_mode)) {
    for (const auto& r : partitions) {
      std::string dev;
      EF_TRY(run_tool({"losetup", "--find", "--show", "--offset", std::to_string(r.offset),
                       "--sizelimit", std::to_string(r.size), target.string()},
                      "mount", &dev));
      while (!dev.empty() && (dev.back() == '\n' || dev.back() == ' ')) dev.pop_back();
      out.loops_.push_back(dev);
      out.paths_.push_back(dev);
    }
    return out;
  }
  // The kernel (devtmpfs) makes the partitions' nodes; udev is kept off the
  // disk by the install's lock, so there is nothing of its to wait for.
  fs::path disk = sysfs_of(st.st_rdev, sys_root);
  for (int attempt = 0; attempt < 150; ++attempt) {
    out.paths_.clear();
    for (size_t n = 1; n <= partitions.size(); ++n)
      for (const auto& p : partition_dirs(disk))
        if (read_line(p / "partition") == std::to_string(n) && fs::exists("/dev" / p.filename()))
          out.paths_.push_back("/dev" / p.filename());
    if (out.paths_.size() == partitions.size()) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Error(Errc::not_found, target.string() +
                                    ": the kernel did not show the new partitions within 15 s "
                                    "(is the disk in use?)");
}

PartitionDevices::~PartitionDevices() {
  for (const auto& l : loops_) (void)run_process({"losetup", "--detach", l});
}

}  // namespace ef::agent
