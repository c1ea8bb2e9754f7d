// The .efb bundle format, version 1 (docs/bundle-format.md): a fixed 64-byte
// header, a canonical-JSON manifest, a canonical-JSON signature block, zero
// padding to a 4 KiB boundary, then the payload (the squashfs image followed
// by its dm-verity hash tree). This header only encodes and decodes the
// pieces; bundle.hpp reads, writes and verifies whole files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signing/chunk_index.hpp"
#include "signing/verity.hpp"
#include "util/error.hpp"
#include "util/semver.hpp"

namespace ef::signing {

inline constexpr std::string_view kBundleMagic = "EFBUNDLE";
inline constexpr uint32_t kBundleFormatVersion = 1;
inline constexpr size_t kBundleHeaderSize = 64;
inline constexpr size_t kMaxManifestSize = 64 * 1024;
inline constexpr size_t kMaxSignatureBlockSize = 64 * 1024;
inline constexpr size_t kMaxSignatures = 16;
inline constexpr size_t kMaxBootFiles = 16;
inline constexpr uint64_t kPayloadAlignment = 4096;
inline constexpr size_t kMaxAttachments = 8;
inline constexpr uint64_t kMaxAttachmentSize = 256ull << 20;

/// The fixed header at offset 0 (little-endian fields, see the format page).
struct BundleHeader {
  uint32_t format_version = kBundleFormatVersion;
  uint32_t manifest_size = 0;
  uint32_t signatures_size = 0;
  uint64_t payload_offset = 0;
  uint64_t payload_size = 0;

  /// Where the payload must start: after header, manifest and signature
  /// block, rounded up to kPayloadAlignment.
  static uint64_t payload_offset_for(uint32_t manifest_size, uint32_t signatures_size);
};

/// The 64 header bytes, checksum included.
std::string encode_header(const BundleHeader& header);
/// Decodes and checks the 64 bytes at `bytes`: magic, checksum, format
/// version, reserved bytes, size limits, payload offset. Errc::bad_bundle.
Result<BundleHeader> decode_header(std::string_view bytes);

/// One signature over the exact manifest bytes.
struct BundleSignature {
  std::string algorithm;  // e.g. "ed25519" (an unknown name is kept, not an error here)
  std::string key_id;     // 64 lower-case hex: sha256 of the public key's SPKI DER
  std::string signature;  // raw signature bytes
};

/// {"signatures":[{"algorithm":..,"keyId":..,"signature":<base64>}]}, canonical.
Result<std::string> encode_signature_block(const std::vector<BundleSignature>& signatures);
/// Strict inverse of encode_signature_block. Errc::bad_bundle.
Result<std::vector<BundleSignature>> parse_signature_block(std::string_view bytes);

/// A file the bootloader needs from the image (the kernel, initrds).
struct BootFile {
  std::string role;  // "kernel" or "initrd" (initrds in load order)
  std::string path;  // absolute path inside the image
  uint64_t size = 0;
  std::string sha256;
};

struct Digest {
  uint64_t size = 0;
  std::string sha256;  // 64 lower-case hex
};

/// A document stored after the payload (an SBOM, a provenance statement,
/// the slot's signed kernel image for Secure Boot devices): signed through
/// its size and sha256 in the manifest, never needed to write the payload.
/// Attachments follow the payload in manifest order.
struct Attachment {
  std::string role;        // "sbom", "provenance" or "kernel-image"
  std::string name;        // file name, e.g. "quickstart-0.1.0.spdx.json"
  std::string media_type;  // e.g. "application/spdx+json"
  uint64_t size = 0;
  std::string sha256;
};

/// The attachment roles this format knows.
bool known_attachment_role(std::string_view role);

/// What the signature covers.
struct BundleManifest {
  uint32_t format_version = kBundleFormatVersion;
  std::string product;     // the profile's name
  std::string compatible;  // which devices may install it
  SemVer version;          // the release
  SemVer min_version;      // anti-rollback floor a device adopts on install
  uint64_t epoch = 0;      // build time (SOURCE_DATE_EPOCH), seconds
  Digest image;            // the squashfs as a slot holds it
  Digest payload;          // image + verity tree, as stored in the bundle
  VerityInfo verity;       // hash_offset: where the tree starts in the payload
  std::vector<BootFile> boot;
  /// The payload's chunk index (delta updates); absent in bundles made
  /// before it existed or with --no-chunk-index.
  std::optional<ChunkIndexInfo> chunks;
  /// Documents after the payload; empty in bundles made before them.
  std::vector<Attachment> attachments;

  /// The first attachment with `role`, or null.
  const Attachment* attachment(std::string_view role) const;
  /// Bytes after the payload: the attachments' sizes summed.
  uint64_t attachments_size() const;
};

/// The canonical manifest bytes; refuses manifests that break the
/// invariants parse_manifest checks.
Result<std::string> encode_manifest(const BundleManifest& manifest);
/// Strict parse: canonical bytes, known keys only, right types, and
/// consistent sizes (image = verity data = hash offset, payload = image +
/// tree, minVersion <= version). Errc::bad_bundle naming the key.
Result<BundleManifest> parse_manifest(std::string_view bytes);

/// Base64 (RFC 4648, padded) as the signature block stores signatures.
std::string base64_encode(std::string_view bytes);
/// Strict: only canonical padded base64 decodes.
Result<std::string> base64_decode(std::string_view text);

}  // namespace ef::signing
