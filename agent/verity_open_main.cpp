// edgeforge-verity-open: the initramfs's dm-verity step (iso/data/
// initramfs-edgeforge.sh). Linked statically, so the image's initrd needs no
// dmsetup or veritysetup; the builder puts it into every image's initramfs
// addition as /edgeforge/bin/verity-open.
//
//   verity-open map NAME DEVICE ROOT_HASH SALT DATA_BLOCKS HASH_OFFSET
//       maps DEVICE read-only through dm-verity (4096-byte blocks, sha256,
//       panic on a corrupted block) and prints the new node (/dev/dm-N)
//   verity-open loader-slot FILE
//       prints A or B: the slot of the systemd-boot entry named in FILE
//       (efivarfs' LoaderEntrySelected); nothing for another entry
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "device/dm_verity.hpp"

namespace {

int usage() {
  std::fputs(
      "usage: verity-open map NAME DEVICE ROOT_HASH SALT DATA_BLOCKS HASH_OFFSET\n"
      "       verity-open loader-slot EFIVAR_FILE\n",
      stderr);
  return 2;
}

bool parse_u64(const char* s, uint64_t& out) {
  if (*s == '\0') return false;
  uint64_t v = 0;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(*s - '0');
  }
  out = v;
  return true;
}

int map(char** argv) {
  ef::device::VerityTarget t;
  t.data_device = argv[3];
  t.root_hash_hex = argv[4];
  t.salt_hex = std::string(argv[5]) == "-" ? "" : argv[5];
  if (!parse_u64(argv[6], t.data_blocks) || !parse_u64(argv[7], t.hash_offset)) {
    std::fprintf(stderr, "verity-open: DATA_BLOCKS and HASH_OFFSET must be numbers\n");
    return 2;
  }
  auto node = ef::device::open_verity(argv[2], t);
  if (!node) {
    std::fprintf(stderr, "verity-open: %s\n", node.error().message().c_str());
    return 1;
  }
  std::printf("%s\n", node->c_str());
  return 0;
}

int loader_slot(const char* file) {
  // The variable is a few hundred bytes at most; plain POSIX I/O keeps this
  // static program small.
  int fd = ::open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "cannot read %s: %s (started by systemd-boot, with efivarfs mounted?)\n",
                 file, std::strerror(errno));
    return 1;
  }
  std::string bytes;
  char buf[512];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0 && bytes.size() < 4096;)
    bytes.append(buf, static_cast<size_t>(n));
  ::close(fd);
  std::string slot = ef::device::slot_from_loader_entry(bytes);
  if (slot.empty()) {
    std::fprintf(stderr, "%s does not name an edgeforge slot entry (%zu bytes)\n", file,
                 bytes.size());
    return 1;
  }
  std::printf("%s\n", slot.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 8 && std::string(argv[1]) == "map") return map(argv);
  if (argc == 3 && std::string(argv[1]) == "loader-slot") return loader_slot(argv[2]);
  return usage();
}
