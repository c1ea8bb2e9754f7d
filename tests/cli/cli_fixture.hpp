// Runs the real `edgeforge` binary on profiles and inputs made per test.
#pragma once

#include <string>

#include "tests/support/command.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::test {

class CliTest : public TempDirTest {
 protected:
  /// Runs `edgeforge ARGS` in the temp dir; stderr goes to tmp/stderr.
  CommandOutput edgeforge(const std::string& args, const std::string& env = "") {
    last_stderr_ = (tmp / "stderr").string();
    return run_command("cd " + tmp.path().string() + " && " + env + " " + EF_EDGEFORGE_BIN + " " +
                       args + " 2>" + last_stderr_);
  }
  std::string last_stderr() const { return run_command("cat " + last_stderr_).out; }
  /// A small rootfs tarball and a profile using it with a files layer.
  void write_basic_profile(const std::string& extra_spec = "") {
    write_tar(
        tmp / "rootfs.tar",
        {TarEntry::dir("etc"),
         TarEntry::file("etc/os-release", "ID=debian\nVERSION_CODENAME=bookworm\n"),
         TarEntry::file("usr/bin/sh", "#!sh", 0755), TarEntry::symlink("bin", "usr/bin"),
         TarEntry::file("var/lib/dpkg/status",
                        "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\n"
                        "Version: 12.4\n\nPackage: gone\nStatus: deinstall ok config-files\n"
                        "Version: 1\n\n")});
    tmp.write("profile.yaml",
              "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: edge\n"
              "  version: 1.2.3\nspec:\n  base:\n    tarball: {path: rootfs.tar}\n"
              "  layers:\n    - files:\n        - {path: /etc/motd, content: \"hello\\n\"}\n" +
                  extra_spec);
  }

 private:
  std::string last_stderr_;
};

}  // namespace ef::test
