#include "tests/signing/bundle_fixture.hpp"

#include "util/atomic_file.hpp"

namespace ef::signing::fixture {

std::string image_bytes(size_t blocks, uint32_t seed) {
  std::string data(blocks * 4096, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return data;
}

fs::path write_image(const fs::path& path, size_t blocks, uint32_t seed) {
  EXPECT_TRUE(write_file_atomic(path, image_bytes(blocks, seed)));
  return path;
}

fs::path write_keyring(const fs::path& dir, const std::vector<const SigningKey*>& keys,
                       const std::vector<std::string>& revoked) {
  fs::create_directories(dir);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_TRUE(
        write_file_atomic(dir / ("key" + std::to_string(i) + ".pub"), keys[i]->public_key().pem()));
  }
  if (!revoked.empty()) {
    std::string text = "# retired keys\n";
    for (const auto& id : revoked) text += id + "\n";
    EXPECT_TRUE(write_file_atomic(dir / "revoked", text));
  }
  return dir;
}

BundleInputs inputs_for(const fs::path& image) {
  BundleInputs in;
  in.image = image;
  in.product = "store-edge";
  in.compatible = "store-edge-nuc";
  in.version = *SemVer::parse("1.4.0");
  in.min_version = *SemVer::parse("1.2.0");
  in.epoch = 1747699200;
  in.boot = {{"kernel", "/boot/vmlinuz-6.1.0-56-amd64", 4096, std::string(64, 'a')},
             {"initrd", "/boot/initrd.img-6.1.0-56-amd64", 8192, std::string(64, 'b')}};
  return in;
}

std::string assemble(const std::string& manifest, const std::string& signature_block,
                     const std::string& payload) {
  BundleHeader h;
  h.manifest_size = static_cast<uint32_t>(manifest.size());
  h.signatures_size = static_cast<uint32_t>(signature_block.size());
  h.payload_offset = BundleHeader::payload_offset_for(h.manifest_size, h.signatures_size);
  h.payload_size = payload.size();
  std::string out = encode_header(h) + manifest + signature_block;
  out.resize(h.payload_offset, '\0');
  return out + payload;
}

std::string sign_block(const SigningKey& key, const std::string& manifest) {
  auto sig = key.sign(manifest);
  EXPECT_TRUE(sig);
  auto block =
      encode_signature_block({{algorithm_name(key.algorithm()), key.key_id(), sig ? *sig : ""}});
  EXPECT_TRUE(block);
  return block ? *block : std::string();
}

}  // namespace ef::signing::fixture
