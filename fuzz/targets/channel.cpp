// Channel files as a device polls them from a web server, a registry or a
// USB stick: the whole file verified against a keyring (fuzz/keys/, whose
// key signed the seeds) and then what the device computes from a document
// (its wave, its turn, the rollout view), or the document, the rollout
// state or an artifact URL alone. The first byte picks which. Strict
// parsers must be exact inverses of their encoders.
#include "channel/channel.hpp"
#include "channel/rollout.hpp"
#include "fuzz/keyring.hpp"
#include "fuzz/support.hpp"

namespace {

using namespace ef::channel;

// The device's clock for documents alone.
constexpr ef::UnixSeconds kNow = 1796083200;  // 2026-12-01T00:00:00Z

void what_a_device_does(const ChannelDoc& doc) {
  DeviceIdentity device{"3f9c1a7e5b2d4c6e8a0b1c2d3e4f5a6b", {{"site", "store-0042"}}};
  (void)wave_of(doc, device);
  auto turn = turn_of(doc, device, kNow);
  (void)describe(doc, turn);
  (void)is_paused(doc, kNow);
  (void)view_rollout(doc, kNow);
  if (doc.release) {
    for (const auto& a : {doc.release->bundle, doc.release->head}) {
      if (a) (void)resolve_artifact("https://updates.example/channels/stable.json", a->url);
    }
  }
}

void file(std::string_view bytes) {
  // The device's clock an hour after the document was issued (when it
  // parses), so that signed seeds of any date are fresh.
  TrustPolicy policy;
  policy.now = kNow;
  if (auto split = split_channel(bytes)) {
    if (auto d = parse_doc(split->signed_bytes)) policy.now = d->issued + 3600;
  }
  auto verified = verify_channel(bytes, ef::fuzz::fuzz_keyring(), policy);
  ef::fuzz::trace("verify_channel", verified);
  if (verified) what_a_device_does(verified->doc);
}

void doc(std::string_view bytes) {
  if (auto d = ef::fuzz::check_round_trip("parse_doc", bytes, parse_doc, encode_doc))
    what_a_device_does(*d);
}

void state(std::string_view bytes) {
  (void)ef::fuzz::check_round_trip("parse_rollout_state", bytes, parse_rollout_state,
                                   encode_rollout_state);
}

void url(std::string_view bytes) {
  std::string relative(bytes);
  auto resolved = resolve_artifact("https://updates.example/channels/stable.json", relative);
  ef::fuzz::trace("resolve_artifact", resolved);
  if (resolved) EF_FUZZ_CHECK(resolved->starts_with("https://updates.example/channels/"));
  (void)check_artifact_url(bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto rest = ef::fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      file(rest);
      break;
    case 1:
      doc(rest);
      break;
    case 2:
      state(rest);
      break;
    default:
      url(rest);
      break;
  }
  return 0;
}
