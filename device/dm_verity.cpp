#include "device/dm_verity.hpp"

#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ef::device {
namespace {

constexpr const char* kControl = "/dev/mapper/control";

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// One device-mapper request: the dm_ioctl header, then `payload`.
class DmRequest {
 public:
  DmRequest(const std::string& name, size_t payload) : buf_(sizeof(dm_ioctl) + payload + 4096) {
    io()->version[0] = DM_VERSION_MAJOR;
    io()->version[1] = 0;
    io()->version[2] = 0;
    io()->data_size = static_cast<uint32_t>(buf_.size());
    io()->data_start = sizeof(dm_ioctl);
    std::strncpy(io()->name, name.c_str(), sizeof(io()->name) - 1);
  }
  dm_ioctl* io() { return reinterpret_cast<dm_ioctl*>(buf_.data()); }
  char* payload() { return buf_.data() + sizeof(dm_ioctl); }

  Result<void> run(int control, unsigned long request, const char* what) {
    if (::ioctl(control, request, buf_.data()) != 0)
      return Error(Errc::io, std::string("device-mapper ") + what + " of " + io()->name +
                                 " failed: " + std::strerror(errno));
    return Ok{};
  }

 private:
  std::vector<char> buf_;  // zeroed: unused fields must be 0
};

Result<std::string> device_numbers(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Error(Errc::not_found, path + ": " + std::strerror(errno));
  if (!S_ISBLK(st.st_mode)) return Error(Errc::invalid_argument, path + " is not a block device");
  return std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
}

void remove_device(int control, const std::string& name) {
  DmRequest req(name, 0);
  (void)req.run(control, DM_DEV_REMOVE, "remove");
}

}  // namespace

Result<void> check_verity_target(const VerityTarget& t) {
  if (t.data_device.empty()) return Error(Errc::invalid_argument, "verity: no data device");
  if (t.block_size < 512 || (t.block_size & (t.block_size - 1)) != 0)
    return Error(Errc::invalid_argument,
                 "verity: block size " + std::to_string(t.block_size) + " is not a power of two");
  if (t.data_blocks == 0) return Error(Errc::invalid_argument, "verity: data blocks is 0");
  if (t.hash_offset % t.block_size != 0 || t.hash_offset / t.block_size < t.data_blocks)
    return Error(Errc::invalid_argument, "verity: hash offset " + std::to_string(t.hash_offset) +
                                             " is not block-aligned after the data");
  if (t.root_hash_hex.size() != 64 || !is_hex(t.root_hash_hex))
    return Error(Errc::invalid_argument,
                 "verity: root hash '" + t.root_hash_hex + "' is not 64 hex digits (sha256)");
  if (t.salt_hex.size() % 2 != 0 || t.salt_hex.size() > 512 || !is_hex(t.salt_hex))
    return Error(Errc::invalid_argument, "verity: salt '" + t.salt_hex + "' is not hex");
  if (!t.on_corruption.empty() && t.on_corruption != "panic_on_corruption" &&
      t.on_corruption != "restart_on_corruption")
    return Error(Errc::invalid_argument, "verity: unknown corruption mode " + t.on_corruption);
  return Ok{};
}

std::string verity_table_params(const VerityTarget& t, const std::string& device) {
  std::string bs = std::to_string(t.block_size);
  std::string p = "1 " + device + " " + device + " " + bs + " " + bs + " " +
                  std::to_string(t.data_blocks) + " " +
                  std::to_string(t.hash_offset / t.block_size) + " sha256 " + t.root_hash_hex +
                  " " + (t.salt_hex.empty() ? "-" : t.salt_hex);
  if (!t.on_corruption.empty()) p += " 1 " + t.on_corruption;
  return p;
}

Result<std::string> open_verity(const std::string& name, const VerityTarget& t) {
  EF_TRY(check_verity_target(t));
  if (name.empty() || name.size() >= DM_NAME_LEN || name.find('/') != std::string::npos)
    return Error(Errc::invalid_argument, "verity: bad device name '" + name + "'");
  EF_ASSIGN(std::string numbers, device_numbers(t.data_device));
  Fd control(::open(kControl, O_RDWR | O_CLOEXEC));
  if (control.get() < 0)
    return Error(Errc::io, std::string(kControl) + ": " + std::strerror(errno) +
                               " (is the dm-mod module loaded?)");

  DmRequest create(name, 0);
  EF_TRY(create.run(control.get(), DM_DEV_CREATE, "create"));
  dev_t dev = static_cast<dev_t>(create.io()->dev);

  std::string params = verity_table_params(t, numbers);
  DmRequest load(name, sizeof(dm_target_spec) + params.size() + 8);
  load.io()->flags = DM_READONLY_FLAG;
  load.io()->target_count = 1;
  auto* spec = reinterpret_cast<dm_target_spec*>(load.payload());
  spec->sector_start = 0;
  spec->length = t.data_blocks * (t.block_size / 512);
  std::strncpy(spec->target_type, "verity", sizeof(spec->target_type) - 1);
  std::memcpy(load.payload() + sizeof(dm_target_spec), params.c_str(), params.size() + 1);
  if (auto loaded = load.run(control.get(), DM_TABLE_LOAD, "table load"); !loaded) {
    remove_device(control.get(), name);
    return std::move(loaded).error().with_context("verity table '" + params + "'");
  }
  DmRequest resume(name, 0);
  if (auto resumed = resume.run(control.get(), DM_DEV_SUSPEND, "resume"); !resumed) {
    remove_device(control.get(), name);
    return resumed.error();
  }
  return "/dev/dm-" + std::to_string(minor(dev));
}

std::string slot_from_loader_entry(std::string_view efivar) {
  if (efivar.size() < 4) return "";
  std::string id;
  for (size_t i = 4; i + 1 < efivar.size(); i += 2) {
    auto lo = static_cast<unsigned char>(efivar[i]);
    auto hi = static_cast<unsigned char>(efivar[i + 1]);
    if (lo == 0 && hi == 0) break;
    if (hi != 0 || lo >= 0x80) return "";  // edgeforge's entry ids are ASCII
    id += static_cast<char>(lo);
  }
  for (const char* slot : {"a", "b"}) {
    std::string stem = std::string("edgeforge-slot-") + slot;
    if (id.rfind(stem, 0) != 0) continue;
    std::string rest = id.substr(stem.size());
    if (rest.starts_with("-good")) rest = rest.substr(5);
    if (rest == ".conf" || (rest.size() > 5 && rest[0] == '+' && rest.ends_with(".conf")))
      return slot[0] == 'a' ? "A" : "B";
  }
  return "";
}

}  // namespace ef::device
