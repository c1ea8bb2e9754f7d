#include "agent/slot_install.hpp"

#include <chrono>

#include "agent/delta_install.hpp"
#include "agent/slot_chunks.hpp"

namespace ef::agent {

Result<SlotInstallResult> install_to_slot(const SlotInstallOptions& o) {
  if (is_bundle_head(o.bundle)) return install_delta_to_slot(o);
  auto run = [&]() -> Result<SlotInstallResult> {
    EF_ASSIGN(auto keyring, signing::Keyring::load(o.keyring));
    EF_ASSIGN(auto source, BundleSource::open(o.bundle, o.http));
    EF_ASSIGN(auto signature, source->head().check_signatures(keyring));
    EF_ASSIGN(auto manifest, source->head().manifest());
    EF_TRY(signing::check_policy(manifest, o.policy));
    using Clock = std::chrono::steady_clock;
    auto seconds = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double>(b - a).count();
    };
    // A full bundle carries no chunk index: the slot's kept one (from an
    // earlier delta install) stops describing it now.
    EF_TRY(forget_slot_chunks(o.target_chunks));
    if (o.on_accepted) EF_TRY(o.on_accepted(manifest));
    auto t0 = Clock::now();
    EF_TRY(write_slot(*source, manifest, o.slot, o.progress));
    auto t1 = Clock::now();
    if (o.on_written) EF_TRY(o.on_written());
    EF_TRY(verify_slot(o.slot, manifest));
    auto t2 = Clock::now();
    return SlotInstallResult{
        std::move(manifest), std::move(signature), seconds(t0, t1), seconds(t1, t2), {}};
  };
  auto r = run();
  if (!r) return std::move(r).error().with_context(o.bundle);
  return r;
}

}  // namespace ef::agent
