// Keys, keyrings and a channel document for the channel tests.
#pragma once

#include <filesystem>
#include <memory>

#include "channel/channel.hpp"

namespace ef::channel::fixture {

/// 2026-12-05T00:00:00Z, the tests' "now".
inline constexpr UnixSeconds kNow = 1'796'428'800;

/// Waves of each kind.
Wave percent_wave(std::string name, uint32_t percent, uint64_t soak = 0, uint32_t cap = 0);
Wave tag_wave(std::string name, std::map<std::string, std::string> tags);
Wave device_wave(std::string name, std::vector<std::string> ids);

/// A fresh Ed25519 key.
std::unique_ptr<signing::SigningKey> make_key();

/// A keyring directory at `dir` trusting `keys`.
signing::Keyring make_keyring(const std::filesystem::path& dir,
                              const std::vector<const signing::SigningKey*>& keys);

/// Channel "stable", version 3, issued at kNow, expiring 30 days later,
/// release 1.2.0 of "quickstart" with a bundle and a head, and the waves
/// canary (tag ring=canary), safe (one device), 5 % (50/h), 25 % (soak 1 d),
/// 100 % (soak 2 d) over a fleet of 2,000.
ChannelDoc sample_doc();

}  // namespace ef::channel::fixture
