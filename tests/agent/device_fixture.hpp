// A device made of files for the agent's tests: slots, an ESP with a real
// grubenv, agent.json, the kernel command line, and real signed bundles of
// small squashfs images (mksquashfs) with a kernel, an initrd and the
// initramfs addition.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/device.hpp"
#include "builder/build/bundle_output.hpp"
#include "device/slot_state.hpp"
#include "iso/secure_boot.hpp"
#include "iso/uki.hpp"
#include "signing/keys.hpp"
#include "signing/verity.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::agent::test_device {

namespace fs = std::filesystem;

constexpr size_t kSlotBytes = 8 << 20;

class DeviceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* k : {&key, &stranger}) {
      auto g = signing::SigningKey::generate(signing::Algorithm::ed25519);
      ASSERT_TRUE(g);
      k->emplace(std::move(*g));
    }
    tmp.write("key.pem", *key->private_pem());
    tmp.write("stranger.pem", *stranger->private_pem());
    tmp.write("ring/device.pub", key->public_key().pem());
    auto env = device::slot_state_env(device::SlotState{});
    ASSERT_TRUE(env);
    tmp.write("esp/grub/grubenv", *device::render_grubenv(*env));
    tmp.write("esp/slot-a/vmlinuz", "kernel 1.0.0");
    tmp.write("slot-a", std::string(kSlotBytes, '\0'));
    tmp.write("slot-b", std::string(kSlotBytes, '\0'));
    write_config("exit 0");
    boot_from("A");
    paths.config = tmp / "agent.json";
    paths.esp = tmp / "esp";
    paths.slot_a = tmp / "slot-a";
    paths.slot_b = tmp / "slot-b";
    paths.state = tmp / "persist/agent/state.json";
    paths.lock = tmp / "agent.lock";
    paths.cmdline = tmp / "cmdline";
    paths.booted_slot = tmp / "booted-slot";
  }

  void write_config(const std::string& health_command, int timeout = 10) {
    nlohmann::json j = {{"product", "edge"},
                        {"compatible", "edge-nuc"},
                        {"version", "1.0.0"},
                        {"keyring", (tmp / "ring").string()},
                        {"tries", 3},
                        {"health",
                         {{"units", nlohmann::json::array()},
                          {"commands", {{{"run", health_command}, {"timeoutSeconds", timeout}}}},
                          {"timeoutSeconds", 10}}}};
    tmp.write("agent.json", j.dump());
  }
  void boot_from(const std::string& slot) {
    tmp.write("cmdline", "BOOT_IMAGE=/vmlinuz boot=edgeforge edgeforge.slot=" + slot + " ro\n");
  }

  /// A real image with a kernel, an initrd and the initramfs addition, in a
  /// signed bundle.
  fs::path bundle(const std::string& version, const std::string& min_version = "",
                  const std::string& key_file = "key.pem",
                  const std::string& compatible = "edge-nuc") {
    fs::path root = tmp / ("root-" + version);
    tmp.write("root-" + version + "/boot/vmlinuz-6.1.0-1-amd64", "kernel " + version);
    tmp.write("root-" + version + "/boot/initrd.img-6.1.0-1-amd64", "initrd " + version);
    tmp.write("root-" + version + "/usr/lib/edgeforge/boot/edgeforge.cpio", "cpio " + version);
    tmp.write("root-" + version + "/etc/edgeforge-release", version);
    fs::path image = tmp / ("edge-" + version + ".squashfs");
    EXPECT_EQ(test::run_command("mksquashfs " + root.string() + " " + image.string() +
                                " -noappend -quiet -comp gzip >/dev/null")
                  .status,
              0);
    // The SBOM a build writes beside the image, named by its manifest:
    // make_bundle signs it into the bundle, the agent records its digest.
    std::string sbom = "{\"spdxVersion\":\"SPDX-2.3\",\"name\":\"edge-" + version + "\"}\n";
    tmp.write("edge-" + version + ".spdx.json", sbom);
    nlohmann::json built = {{"sbom",
                             {{"file", "edge-" + version + ".spdx.json"},
                              {"format", "spdx-2.3"},
                              {"sha256", sha256_hex(sbom)}}}};
    if (with_kernel_image) built["kernelImage"] = kernel_image(version, image);
    tmp.write("edge-" + version + ".manifest.json", built.dump());
    build::BundleRequest req;
    req.image = image;
    req.out = tmp / ("edge-" + version + "-" + key_file + "-" + compatible + ".efb");
    req.product = "edge";
    req.compatible = compatible;
    req.version = version;
    req.min_version = min_version.empty() ? "0.0.0" : min_version;
    req.keys = {(tmp / key_file).string()};
    auto r = build::make_bundle(req);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return req.out;
  }

  /// Set: bundle() also makes the image's unified kernel image (what a build
  /// with spec.secureBoot writes beside the image; unsigned here, the agent
  /// leaves signatures to the firmware) and names it in the build manifest,
  /// so the bundle carries it. Its command line names `kernel_image_root`,
  /// or the image's own verity root hash when that is empty.
  bool with_kernel_image = false;
  std::string kernel_image_root;

  nlohmann::json kernel_image(const std::string& version, const fs::path& image) {
    std::string root = kernel_image_root;
    if (root.empty()) {
      auto tree = signing::build_verity_tree(image, tmp / "kernel-image.tree", 0);
      EXPECT_TRUE(tree);
      root = tree ? tree->root_hash_hex : "";
    }
    iso::UkiParts parts;
    parts.stub = iso::kLinuxStub;
    parts.cmdline = "boot=edgeforge ro edgeforge.verity=" + root + " panic=10";
    parts.kernel = tmp / ("root-" + version + "/boot/vmlinuz-6.1.0-1-amd64");
    auto uki = iso::build_uki(parts);
    EXPECT_TRUE(uki) << (uki ? "" : uki.error().message());
    std::string name = "edge-" + version + ".efi";
    tmp.write(name, uki ? *uki : "");
    return {{"file", name}, {"sha256", sha256_hex(uki ? *uki : "")}};
  }

  Result<Device> open() {
    return Device::open(paths, [this](const std::string& l) { log += l + "\n"; });
  }

  device::SlotState grub() { return *BootControl(tmp / "esp").read(); }
  AgentState state() { return *load_state(paths.state); }

  test::TempDir tmp;
  std::optional<signing::SigningKey> key, stranger;
  DevicePaths paths;
  std::string log;
};

}  // namespace ef::agent::test_device
