#include "builder/cluster/provision.hpp"

#include "builder/cluster/node_layer.hpp"
#include "builder/profile/profile_loader.hpp"
#include "device/site.hpp"
#include "util/atomic_file.hpp"

namespace ef::cluster {

Result<node::ProvisionBundle> write_provision_script(const std::filesystem::path& profile_file,
                                                     fetch::Cache& cache, const std::string& mirror,
                                                     const std::filesystem::path& out_dir) {
  EF_ASSIGN(auto p, profile::load_profile(profile_file));
  EF_ASSIGN(auto layer, make_node_layer(p, cache, mirror));
  if (layer.empty())
    return Error(Errc::invalid_profile, p.file.string() +
                                            ": the profile has no spec.kubernetes, spec.packs or "
                                            "spec.site: nothing to provision");
  node::HostNetwork network;
  if (!p.site.empty()) {
    EF_ASSIGN(auto text, read_file(p.site));
    EF_ASSIGN(auto site, site::parse_site(text, p.site.string()));
    network.netplan = site::render_netplan(site);
  }
  return node::write_provision_bundle(layer.content, layer.host_packages,
                                      "edgeforge node provisioning for " + p.name + " " + p.version,
                                      out_dir, network);
}

}  // namespace ef::cluster
