// Packs from other teams: pack.yaml, its values merged with a profile's, and
// a manifest template rendered for a k3s node. Input: pack.yaml, then
// "\n#@manifest\n" and manifests/app.yaml (optional); or, when it starts as
// gzip does, a whole pack archive (.tar.gz), extracted into the cache.
#include <filesystem>
#include <system_error>

#include "builder/fetch/cache.hpp"
#include "builder/packs/pack.hpp"
#include "fuzz/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  auto input = ef::fuzz::as_view(data, size);
  const fs::path dir = ef::fuzz::scratch_dir() / "pack";
  const fs::path cache_dir = ef::fuzz::scratch_dir() / "cache";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::remove_all(cache_dir / "packs", ec);  // an archive is extracted once per digest
  ef::profile::PackRef ref;
  if (input.starts_with("\x1f\x8b")) {
    ref.path = ef::fuzz::scratch_dir() / "pack.tar.gz";
    ef::fuzz::write_file(ref.path, input);
  } else {
    auto parts = ef::fuzz::split_parts(input, "\n#@manifest\n", 2);
    fs::create_directories(dir / "manifests");
    ef::fuzz::write_file(dir / "pack.yaml", parts[0]);
    if (parts.size() == 2) ef::fuzz::write_file(dir / "manifests" / "app.yaml", parts[1]);
    ref.path = dir;
  }

  static const ef::fetch::Cache cache(ef::fetch::CacheOptions{.dir = cache_dir, .offline = true});
  ref.values = {{"namespace", "store"}, {"replicas", 2}, {"labels", {{"tier", "edge"}}}};
  ref.loc = {"profile.yaml", 12, 7};
  auto pack = ef::packs::load_pack(ref, cache);
  ef::fuzz::trace("load_pack", pack);
  if (!pack) return 0;
  ef::fuzz::trace("check_constraints", ef::packs::check_constraints({*pack}, "k3s"));
  ef::kubernetes::Delivery k3s{
      "/var/lib/rancher/k3s/agent/images", "/var/lib/rancher/k3s/server/manifests", "helmchart",
      "/var/lib/rancher/k3s/server/static/charts", "/etc/rancher/k3s/registries.yaml"};
  ef::fuzz::trace("pack_content", ef::packs::pack_content(*pack, k3s));
  (void)ef::packs::pack_content(*pack, std::nullopt);
  return 0;
}
