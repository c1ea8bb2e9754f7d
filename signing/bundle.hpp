// Signed upgrade bundles (.efb): writing one from a squashfs image, and
// reading one back in the order that keeps a verifier safe: bounded header,
// manifest and signatures first; signatures checked against a keyring before
// the manifest is believed; policy (compatible, versions) next; the payload
// last, streamed, against the sha256 and dm-verity root hash the signature
// covers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "signing/bundle_format.hpp"
#include "signing/keyring.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"
#include "util/semver.hpp"
#include "util/unique_fd.hpp"

namespace ef::signing {

/// A document to store after the payload (see Attachment).
struct AttachmentFile {
  std::string role;  // "sbom", "provenance" or "kernel-image"
  std::string media_type;
  std::filesystem::path path;  // its file name becomes the attachment's name
};

/// What a bundle says about its image; the digests are computed.
struct BundleInputs {
  std::filesystem::path image;  // squashfs (size a multiple of 4096)
  std::string product;
  std::string compatible;
  SemVer version;
  SemVer min_version;  // defaults to 0.0.0: no floor raised
  uint64_t epoch = 0;
  std::vector<BootFile> boot;  // from the image, see find_boot_files
  /// How to cut the payload for the chunk index; nullopt: no index. An
  /// image that does not read as squashfs is cut as gear-cdc-1.
  std::optional<ChunkParams> chunking = ChunkParams{};
  /// Stored after the payload in this order, signed by size and sha256.
  std::vector<AttachmentFile> attachments;
};

/// What a bundle of an image says about its payload (image + verity tree).
struct Payload {
  Digest image;
  Digest payload;
  VerityInfo verity;          // hash_offset: the image size
  std::vector<Chunk> chunks;  // with chunking
  ChunkParams chunking;       // how they were cut
};

/// The payload of `image` as a bundle would carry it (the same salt, tree
/// and chunks), without writing a bundle: for comparing images
/// (`edgeforge delta-stats`). The tree goes to a temporary file.
Result<Payload> describe_payload(const std::filesystem::path& image,
                                 const std::optional<ChunkParams>& chunking);

/// Writes `out` (temporary name, renamed when complete): the image, its
/// dm-verity tree (salt derived from the image, as build_verity_tree's
/// default) and a manifest signed by every key in `keys` (several keys: a
/// rotation, any one of them trusted suffices). Returns the manifest.
Result<BundleManifest> create_bundle(const BundleInputs& inputs,
                                     const std::vector<const SigningKey*>& keys,
                                     const std::filesystem::path& out);

/// The signature that made a bundle trusted.
struct TrustedSignature {
  size_t index = 0;  // in the signature block
  std::string key_id;
  std::filesystem::path key_file;
};

/// The first of `signatures` over `message` by a key of `keyring` that is
/// not revoked. Errc::untrusted saying, per signature, why it did not
/// count; `altered` names what a non-matching signature means ("the
/// manifest (bundle altered or corrupt)"). Bundles and channels both check
/// their signatures with it.
Result<TrustedSignature> find_trusted_signature(std::string_view message,
                                                const std::vector<BundleSignature>& signatures,
                                                const Keyring& keyring, std::string_view altered);

/// What a device or operator accepts.
struct VerifyPolicy {
  std::string compatible;                   // empty: any
  std::optional<SemVer> min_version;        // the device's anti-rollback floor
  std::optional<SemVer> installed_version;  // refuse anything older
  bool allow_downgrade = false;             // operator override for installed_version only
};

/// The front of a bundle: header, manifest bytes and signature block, read
/// through `read_at` from a file or a download (at most ~132 KiB whatever
/// the source claims) and checked for structure and against the source's
/// total size. Nothing in it is trusted until check_signatures() succeeds.
class BundleHead {
 public:
  /// Reads `size` bytes at `offset` into `out`.
  using ReadAt = std::function<Result<void>(uint64_t offset, char* out, size_t size)>;
  /// `total_size` must be the payload's end plus the manifest's
  /// attachments.
  static Result<BundleHead> read(const ReadAt& read_at, uint64_t total_size);
  /// The same checks without the file's length: for a bundle head (.efbh),
  /// whose payload is elsewhere (its index follows at payload_offset).
  static Result<BundleHead> read_front(const ReadAt& read_at);

  const BundleHeader& header() const { return header_; }
  const std::string& manifest_bytes() const { return manifest_bytes_; }
  const std::vector<BundleSignature>& signatures() const { return signatures_; }

  /// Parses the manifest strictly (see parse_manifest) and checks it against
  /// the header and the file's length (payload, then its attachments). Does
  /// not make it trusted.
  Result<BundleManifest> manifest() const;

  /// Finds a signature over the manifest bytes by a key of `keyring` that is
  /// not revoked. Errc::untrusted saying, per signature, why it did not count.
  Result<TrustedSignature> check_signatures(const Keyring& keyring) const;

 private:
  /// Manifest, signature block and padding after the decoded header.
  Result<void> read_rest(const ReadAt& read_at);

  BundleHeader header_;
  /// Bytes after the payload in the file read (read_front: unknown).
  std::optional<uint64_t> after_payload_;
  std::string manifest_bytes_;
  std::vector<BundleSignature> signatures_;
};

/// An opened bundle file: its head plus the descriptor to stream the payload.
class Bundle {
 public:
  static Result<Bundle> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const BundleHead& head() const { return head_; }
  const BundleHeader& header() const { return head_.header(); }
  const std::string& manifest_bytes() const { return head_.manifest_bytes(); }
  const std::vector<BundleSignature>& signatures() const { return head_.signatures(); }
  int fd() const { return fd_.get(); }
  Result<BundleManifest> manifest() const { return head_.manifest(); }
  Result<TrustedSignature> check_signatures(const Keyring& keyring) const {
    return head_.check_signatures(keyring);
  }

  /// Hashes the payload (sha256) and checks it against the verity tree, on
  /// two threads, through fixed-size buffers. `manifest` must come from
  /// manifest() after check_signatures(). Errc::checksum on a mismatch.
  Result<void> verify_payload(const BundleManifest& manifest) const;

 private:
  Bundle() = default;
  std::filesystem::path path_;
  UniqueFd fd_;
  BundleHead head_;
};

/// The payload check on any descriptor: the payload (image + tree) starts at
/// byte `base` of `fd` (a bundle, or a slot the payload was written to).
/// `name` appears in errors.
Result<void> verify_payload_at(int fd, uint64_t base, const BundleManifest& manifest,
                               const std::filesystem::path& name);

/// Refuses what `policy` does not allow. Errc::refused.
Result<void> check_policy(const BundleManifest& manifest, const VerifyPolicy& policy);

/// Cuts the payload of `bundle` into the chunks its signed index lists
/// (`manifest` from manifest() after check_signatures()). Errors: no index
/// in the bundle; chunks that differ from the index (Errc::checksum).
Result<std::vector<Chunk>> chunk_payload(const Bundle& bundle, const BundleManifest& manifest);

/// Cuts the payload of `bundle` with `params` (any bundle, with or without
/// an index): to compare it with a release cut another way.
Result<std::vector<Chunk>> cut_payload(const Bundle& bundle, const BundleManifest& manifest,
                                       const ChunkParams& params);

/// The bytes of the attachment with `role` (`manifest` from manifest()
/// after check_signatures(), or unchecked for inspection), checked against
/// its size and sha256. Errc::not_found when the bundle has none;
/// Errc::checksum when the stored bytes differ.
Result<std::string> read_attachment(const Bundle& bundle, const BundleManifest& manifest,
                                    std::string_view role);

struct VerifiedBundle {
  BundleManifest manifest;
  TrustedSignature signature;
};

/// Everything, in the safe order: open, signatures, manifest, policy, payload.
Result<VerifiedBundle> verify_bundle(const std::filesystem::path& path, const Keyring& keyring,
                                     const VerifyPolicy& policy);

}  // namespace ef::signing
