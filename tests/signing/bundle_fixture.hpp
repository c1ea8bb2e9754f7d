// Shared pieces for the bundle tests: images, keys, keyrings, and a way to
// assemble bundles from raw parts so tests can sign exactly the bytes they
// want a verifier to meet.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "signing/bundle.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::signing::fixture {

namespace fs = std::filesystem;

/// `blocks` 4 KiB blocks of deterministic pseudo-random bytes (seeded).
std::string image_bytes(size_t blocks, uint32_t seed = 1);

/// Writes image_bytes() to `path`.
fs::path write_image(const fs::path& path, size_t blocks, uint32_t seed = 1);

/// Writes `keys`' public halves as DIR/<name>.pub (name = index) plus an
/// optional revoked list; returns DIR.
fs::path write_keyring(const fs::path& dir, const std::vector<const SigningKey*>& keys,
                       const std::vector<std::string>& revoked = {});

/// Default inputs for an image at `image`.
BundleInputs inputs_for(const fs::path& image);

/// A bundle file from parts: header (computed), manifest bytes, signature
/// block bytes, zero padding, payload bytes.
std::string assemble(const std::string& manifest, const std::string& signature_block,
                     const std::string& payload);

/// A signature block with one signature of `manifest` by `key`.
std::string sign_block(const SigningKey& key, const std::string& manifest);

/// The error message of `r`, or "(ok)" — for readable expectations.
template <typename T>
std::string error_of(const Result<T>& r) {
  return r ? std::string("(ok)") : r.error().message();
}

}  // namespace ef::signing::fixture
