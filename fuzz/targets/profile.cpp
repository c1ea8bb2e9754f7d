// Profiles and their `extends` chains, as operators and other teams write
// them. Input: profile.yaml, then "\n#@parent\n" and parent.yaml, then
// "\n#@parent\n" and base.yaml (each optional); the files a profile may name
// exist beside them (site/, site.yaml, files/motd, base.tar, pack/,
// keys/), so the
// parser goes on past its input checks.
#include <filesystem>

#include "builder/profile/profile_loader.hpp"
#include "fuzz/support.hpp"

namespace {

namespace fs = std::filesystem;

fs::path profile_dir() {
  static const fs::path dir = [] {
    fs::path d = ef::fuzz::scratch_dir() / "profile";
    fs::create_directories(d / "site" / "etc");
    fs::create_directories(d / "files");
    fs::create_directories(d / "pack");
    fs::create_directories(d / "keys");
    ef::fuzz::write_file(d / "site" / "etc" / "hostname", "edge\n");
    ef::fuzz::write_file(d / "files" / "motd", "hello\n");
    ef::fuzz::write_file(d / "site.yaml", "hostname: edge-1\n");
    ef::fuzz::write_file(d / "base.tar", std::string(1024, '\0'));
    ef::fuzz::write_file(d / "pack" / "pack.yaml", "name: app\nversion: 1.0.0\nlayer: addon\n");
    fs::copy_file(EF_FUZZ_DIR "/keys/fuzz.pub", d / "keys" / "fuzz.pub",
                  fs::copy_options::overwrite_existing);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& dir = profile_dir();
  auto parts = ef::fuzz::split_parts(ef::fuzz::as_view(data, size), "\n#@parent\n", 3);
  static const char* const names[] = {"profile.yaml", "parent.yaml", "base.yaml"};
  for (size_t i = 0; i < 3; ++i) {
    if (i < parts.size()) {
      ef::fuzz::write_file(dir / names[i], parts[i]);
    } else {
      std::error_code ec;
      fs::remove(dir / names[i], ec);
    }
  }
  ef::fuzz::trace("load_profile", ef::profile::load_profile(dir / "profile.yaml"));
  return 0;
}
