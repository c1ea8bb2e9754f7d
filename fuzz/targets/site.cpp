// site.yaml as site teams write it (and the installer reads it from a USB
// stick): parsed, then rendered into the files a node gets, for each
// container runtime, and the netplan.
#include <string>

#include "device/site.hpp"
#include "fuzz/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ef::site;
  auto site = parse_site(std::string(ef::fuzz::as_view(data, size)), "site.yaml");
  ef::fuzz::trace("parse_site", site);
  if (!site) return 0;
  for (auto target : {RegistryTarget::none, RegistryTarget::k3s, RegistryTarget::containerd}) {
    for (const auto& file : render_site(*site, target)) {
      EF_FUZZ_CHECK(!file.path.empty() && file.path.front() == '/');
    }
  }
  (void)render_netplan(*site);
  return 0;
}
