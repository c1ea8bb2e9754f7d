#include "signing/bundle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <vector>

#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"

namespace ef::signing {
namespace {

constexpr size_t kChunk = 1 << 20;

Error bad(const std::string& message) {
  return Error(Errc::bad_bundle, message);
}

Result<UniqueFd> open_read(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    return errno_error(err == ENOENT ? Errc::not_found : Errc::io, "cannot open " + path.string(),
                       err);
  }
  return fd;
}

Result<uint64_t> file_size(int fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_error(Errc::io, "cannot stat " + path.string(), errno);
  return static_cast<uint64_t>(st.st_size);
}

/// Feeds `length` bytes of `fd` from `offset` into `hash` and, when given,
/// `chunker`.
Result<void> hash_range(int fd, uint64_t offset, uint64_t length, const std::filesystem::path& path,
                        Sha256& hash, Chunker* chunker = nullptr) {
  return stream_range(fd, offset, length, path, [&](const char* p, size_t n, uint64_t) {
    hash.update(p, n);
    if (chunker) chunker->update(p, n);
    return Result<void>(Ok{});
  });
}

/// Copies `length` bytes of `in` to the end of `out` (in-kernel when it can).
Result<void> append_file(int in, uint64_t length, const std::filesystem::path& in_path,
                         AtomicFile& out) {
  loff_t in_off = 0;
  while (length > 0) {
    ssize_t n = ::copy_file_range(in, &in_off, out.fd(), nullptr, length, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // unsupported here (or EOF): finish with plain copies
    length -= static_cast<uint64_t>(n);
  }
  std::vector<char> buf(kChunk);
  while (length > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), length));
    EF_TRY(pread_all(in, buf.data(), n, static_cast<uint64_t>(in_off), in_path));
    EF_TRY(out.write(std::string_view(buf.data(), n)));
    in_off += static_cast<loff_t>(n);
    length -= n;
  }
  return Ok{};
}

std::string short_id(const std::string& key_id) {
  return key_id.substr(0, 16);
}

}  // namespace

// ---- writing ---------------------------------------------------------------

namespace {

Result<Payload> make_payload(const std::filesystem::path& image_path, AtomicFile& tree_file,
                             const std::optional<ChunkParams>& chunking) {
  EF_ASSIGN(UniqueFd image, open_read(image_path));
  EF_ASSIGN(uint64_t image_size, file_size(image.get(), image_path));
  if (image_size == 0 || image_size % 4096 != 0) {
    return Error(Errc::invalid_argument,
                 image_path.string() + ": size " + std::to_string(image_size) +
                     " is not a non-zero multiple of 4096; squashfs images are padded to 4 KiB "
                     "(mksquashfs and edgeforge do this by default)");
  }
  // One pass gives the image digest, starts the payload digest and cuts the
  // payload into chunks.
  std::optional<Chunker> chunker;
  Payload p;
  if (chunking) {
    EF_TRY(chunking->check());
    p.chunking = *chunking;
    auto blocks = image_block_starts(image_path, 0, image_size, p.chunking);
    if (!blocks) {  // not squashfs: its bytes are cut as they are
      p.chunking.algorithm = ChunkAlgorithm::gear;
      blocks = std::vector<uint64_t>{};
    }
    chunker.emplace(p.chunking, std::move(*blocks));
  }
  Chunker* chunks = chunker ? &*chunker : nullptr;
  Sha256 payload_hash;
  EF_TRY(hash_range(image.get(), 0, image_size, image_path, payload_hash, chunks));
  p.image = {image_size, payload_hash.hex_digest_so_far()};

  VerityParams params;
  params.salt_hex = default_verity_salt_hex(p.image.sha256);
  EF_ASSIGN(p.verity, build_verity_tree(image_path, tree_file.temp_path(), 0, params));
  p.verity.hash_offset = image_size;  // in the payload, the tree follows the image
  EF_TRY(hash_range(tree_file.fd(), 0, p.verity.tree_size, tree_file.temp_path(), payload_hash,
                    chunks));
  p.payload = {image_size + p.verity.tree_size, payload_hash.hex_digest()};
  if (chunker) p.chunks = chunker->finish();
  return p;
}

}  // namespace

Result<Payload> describe_payload(const std::filesystem::path& image,
                                 const std::optional<ChunkParams>& chunking) {
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  EF_ASSIGN(AtomicFile tree_file, AtomicFile::create(dir / "edgeforge-payload.verity"));
  return make_payload(image, tree_file, chunking);
}

Result<BundleManifest> create_bundle(const BundleInputs& in,
                                     const std::vector<const SigningKey*>& keys,
                                     const std::filesystem::path& out) {
  if (keys.empty()) return Error(Errc::invalid_argument, "a bundle needs at least one signing key");
  // The tree goes to a scratch file beside the output, removed on return.
  EF_ASSIGN(AtomicFile tree_file, AtomicFile::create(out.string() + ".verity"));
  EF_ASSIGN(Payload payload, make_payload(in.image, tree_file, in.chunking));

  BundleManifest m;
  m.product = in.product;
  m.compatible = in.compatible;
  m.version = in.version;
  m.min_version = in.min_version;
  m.epoch = in.epoch;
  m.image = payload.image;
  m.payload = payload.payload;
  m.verity = payload.verity;
  m.boot = in.boot;
  if (in.chunking) m.chunks = describe_chunk_index(payload.chunks, payload.chunking);
  std::vector<std::string> attached;
  for (const auto& a : in.attachments) {
    EF_ASSIGN(std::string bytes, read_file(a.path));
    if (bytes.empty() || bytes.size() > kMaxAttachmentSize)
      return Error(Errc::invalid_argument, a.path.string() +
                                               ": an attachment must be 1 byte to 256 MiB, it is " +
                                               std::to_string(bytes.size()) + " bytes");
    m.attachments.push_back(
        {a.role, a.path.filename().string(), a.media_type, bytes.size(), sha256_hex(bytes)});
    attached.push_back(std::move(bytes));
  }
  EF_ASSIGN(std::string manifest, encode_manifest(m));

  std::vector<BundleSignature> signatures;
  for (const SigningKey* key : keys) {
    EF_ASSIGN(std::string sig, key->sign(manifest));
    signatures.push_back({algorithm_name(key->algorithm()), key->key_id(), std::move(sig)});
  }
  EF_ASSIGN(std::string signature_block, encode_signature_block(signatures));
  if (signature_block.size() > kMaxSignatureBlockSize) {
    return Error(Errc::invalid_argument, "too many signatures for one bundle");
  }

  BundleHeader h;
  h.manifest_size = static_cast<uint32_t>(manifest.size());
  h.signatures_size = static_cast<uint32_t>(signature_block.size());
  h.payload_offset = BundleHeader::payload_offset_for(h.manifest_size, h.signatures_size);
  h.payload_size = m.payload.size;
  std::string head = encode_header(h) + manifest + signature_block;
  head.resize(h.payload_offset, '\0');

  EF_ASSIGN(UniqueFd image, open_read(in.image));
  EF_ASSIGN(AtomicFile file, AtomicFile::create(out));
  EF_TRY(file.write(head));
  EF_TRY(append_file(image.get(), m.image.size, in.image, file));
  EF_TRY(append_file(tree_file.fd(), m.verity.tree_size, tree_file.temp_path(), file));
  for (const auto& bytes : attached) EF_TRY(file.write(bytes));
  EF_TRY(file.commit());
  return m;
}

// ---- reading ---------------------------------------------------------------

Result<BundleHead> BundleHead::read(const ReadAt& read_at, uint64_t size) {
  BundleHead b;
  std::string head(std::min<uint64_t>(size, kBundleHeaderSize), '\0');
  EF_TRY(read_at(0, head.data(), head.size()));
  EF_ASSIGN(b.header_, decode_header(head));
  const BundleHeader& h = b.header_;
  uint64_t end = h.payload_offset + h.payload_size;
  if (size < end) {
    return bad("truncated: the file is " + std::to_string(size) + " bytes, its header says " +
               std::to_string(end) + " (copy it again)");
  }
  EF_TRY(b.read_rest(read_at));
  // Documents may follow the payload; how many bytes the manifest says,
  // checked by manifest() — after the signatures, so that an altered
  // manifest is reported as such, not as a length mismatch.
  b.after_payload_ = size - end;
  return b;
}

Result<BundleHead> BundleHead::read_front(const ReadAt& read_at) {
  BundleHead b;
  std::string head(kBundleHeaderSize, '\0');
  EF_TRY(read_at(0, head.data(), head.size()));
  EF_ASSIGN(b.header_, decode_header(head));
  EF_TRY(b.read_rest(read_at));
  return b;
}

Result<void> BundleHead::read_rest(const ReadAt& read_at) {
  const BundleHeader& h = header_;

  // Manifest, signature block and padding: bounded by decode_header.
  std::string rest(h.payload_offset - kBundleHeaderSize, '\0');
  EF_TRY(read_at(kBundleHeaderSize, rest.data(), rest.size()));
  manifest_bytes_ = rest.substr(0, h.manifest_size);
  std::string block = rest.substr(h.manifest_size, h.signatures_size);
  size_t padding = h.manifest_size + h.signatures_size;
  if (auto nz = rest.find_first_not_of('\0', padding); nz != std::string::npos) {
    return bad("padding byte " + std::to_string(kBundleHeaderSize + nz) + " is not zero");
  }
  EF_ASSIGN(signatures_, parse_signature_block(block));
  return Ok{};
}

Result<std::string> read_attachment(const Bundle& bundle, const BundleManifest& m,
                                    std::string_view role) {
  uint64_t offset = bundle.header().payload_offset + m.payload.size;
  for (const auto& a : m.attachments) {
    if (a.role != role) {
      offset += a.size;
      continue;
    }
    std::string bytes(a.size, '\0');
    EF_TRY(pread_all(bundle.fd(), bytes.data(), bytes.size(), offset, bundle.path()));
    std::string actual = sha256_hex(bytes);
    if (actual != a.sha256)
      return Error(Errc::checksum, bundle.path().string() + ": attachment " + a.name +
                                       " at offset " + std::to_string(offset) + " has sha256 " +
                                       actual + ", the manifest says " + a.sha256 +
                                       " (bundle altered or corrupt)");
    return bytes;
  }
  return Error(Errc::not_found, bundle.path().string() + ": the bundle carries no " +
                                    std::string(role) +
                                    " (made without one, or by an older "
                                    "edgeforge)");
}

Result<Bundle> Bundle::open(const std::filesystem::path& path) {
  Bundle b;
  b.path_ = path;
  EF_ASSIGN(b.fd_, open_read(path));
  EF_ASSIGN(uint64_t size, file_size(b.fd_.get(), path));
  int fd = b.fd_.get();
  EF_ASSIGN(b.head_, BundleHead::read([&](uint64_t offset, char* out,
                                          size_t n) { return pread_all(fd, out, n, offset, path); },
                                      size));
  return b;
}

Result<BundleManifest> BundleHead::manifest() const {
  EF_ASSIGN(BundleManifest m, parse_manifest(manifest_bytes_));
  if (m.payload.size != header_.payload_size) {
    return bad("header payload size " + std::to_string(header_.payload_size) +
               " differs from the manifest's " + std::to_string(m.payload.size));
  }
  if (after_payload_ && *after_payload_ != m.attachments_size()) {
    uint64_t end = header_.payload_offset + header_.payload_size;
    uint64_t want = end + m.attachments_size(), size = end + *after_payload_;
    if (size < want)
      return bad("truncated: the file is " + std::to_string(size) + " bytes, its manifest says " +
                 std::to_string(want) + " with its attachments (copy it again)");
    return bad("unexpected data after the " +
               std::string(m.attachments.empty() ? "payload" : "attachments") + ": the file is " +
               std::to_string(size) + " bytes, its header and manifest say " +
               std::to_string(want));
  }
  return m;
}

Result<TrustedSignature> find_trusted_signature(std::string_view message,
                                                const std::vector<BundleSignature>& signatures,
                                                const Keyring& keyring, std::string_view altered) {
  std::string reasons;
  for (size_t i = 0; i < signatures.size(); ++i) {
    const BundleSignature& s = signatures[i];
    std::string why;
    const TrustedKey* key = keyring.find(s.key_id);
    auto algorithm = parse_algorithm(s.algorithm);
    if (!algorithm) {
      why = "unknown algorithm \"" + s.algorithm + "\"";
    } else if (key == nullptr) {
      why = "key not in the keyring (untrusted)";
    } else if (keyring.is_revoked(s.key_id)) {
      why = "key revoked by " + (keyring.dir() / "revoked").string();
    } else if (*algorithm != key->key.algorithm()) {
      why = "algorithm " + s.algorithm + " does not match the key (" +
            algorithm_name(key->key.algorithm()) + ")";
    } else if (!key->key.verify(message, s.signature)) {
      why = "signature does not match " + std::string(altered);
    } else {
      return TrustedSignature{i, s.key_id, key->file};
    }
    reasons += (reasons.empty() ? "" : "; ") + std::string("signature ") + std::to_string(i + 1) +
               " (key " + short_id(s.key_id) + "): " + why;
  }
  return Error(Errc::untrusted,
               "no valid signature by a trusted key in " + keyring.dir().string() + ": " + reasons);
}

Result<TrustedSignature> BundleHead::check_signatures(const Keyring& keyring) const {
  return find_trusted_signature(manifest_bytes_, signatures_, keyring,
                                "the manifest (bundle altered or corrupt)");
}

Result<void> verify_payload_at(int fd, uint64_t base, const BundleManifest& m,
                               const std::filesystem::path& name) {
  // The verity check (every block against the signed root hash) runs beside
  // the sha256 of the payload; both read through fixed buffers.
  auto verity = std::async(std::launch::async, [&] {
    return verify_verity_fds(fd, base, fd, base, m.verity, name, name);
  });
  Sha256 hash;
  auto read = hash_range(fd, base, m.payload.size, name, hash);
  Result<void> tree = verity.get();
  EF_TRY(read);
  if (hash.hex_digest() != m.payload.sha256) {
    std::string where = tree ? std::string() : " (" + tree.error().message() + ")";
    return Error(Errc::checksum, "payload sha256 does not match the signed manifest" + where);
  }
  if (!tree) {
    return Error(Errc::checksum,
                 "payload matches its sha256 but not the signed verity root hash: " +
                     tree.error().message());
  }
  return Ok{};
}

Result<void> Bundle::verify_payload(const BundleManifest& m) const {
  return verify_payload_at(fd_.get(), header().payload_offset, m, path_.string() + " payload");
}

Result<void> check_policy(const BundleManifest& m, const VerifyPolicy& policy) {
  if (!policy.compatible.empty() && m.compatible != policy.compatible) {
    return Error(Errc::refused, "bundle is for \"" + m.compatible + "\", this device is \"" +
                                    policy.compatible + "\"");
  }
  if (policy.min_version && m.version < *policy.min_version) {
    return Error(Errc::refused, "version " + m.version.str() +
                                    " is below the anti-rollback floor " +
                                    policy.min_version->str());
  }
  if (policy.installed_version && m.version < *policy.installed_version &&
      !policy.allow_downgrade) {
    return Error(Errc::refused, "version " + m.version.str() + " is older than the installed " +
                                    policy.installed_version->str() +
                                    " (a downgrade needs the explicit override)");
  }
  return Ok{};
}

Result<VerifiedBundle> verify_bundle(const std::filesystem::path& path, const Keyring& keyring,
                                     const VerifyPolicy& policy) {
  EF_ASSIGN(Bundle bundle, Bundle::open(path));
  EF_ASSIGN(TrustedSignature signature, bundle.check_signatures(keyring));
  EF_ASSIGN(BundleManifest manifest, bundle.manifest());
  EF_TRY(check_policy(manifest, policy));
  EF_TRY(bundle.verify_payload(manifest));
  return VerifiedBundle{std::move(manifest), std::move(signature)};
}

Result<std::vector<Chunk>> cut_payload(const Bundle& bundle, const BundleManifest& m,
                                       const ChunkParams& params) {
  EF_TRY(params.check());
  EF_ASSIGN(auto blocks, image_block_starts(bundle.path(), bundle.header().payload_offset,
                                            m.image.size, params));
  Chunker chunker(params, std::move(blocks));
  EF_TRY(stream_range(bundle.fd(), bundle.header().payload_offset, m.payload.size, bundle.path(),
                      [&](const char* p, size_t n, uint64_t) {
                        chunker.update(p, n);
                        return Result<void>(Ok{});
                      }));
  return chunker.finish();
}

Result<std::vector<Chunk>> chunk_payload(const Bundle& bundle, const BundleManifest& m) {
  if (!m.chunks)
    return Error(Errc::invalid_argument,
                 bundle.path().string() +
                     ": the bundle has no chunk index (made before edgeforge had one); make it "
                     "again with 'edgeforge bundle'");
  EF_ASSIGN(auto chunks, cut_payload(bundle, m, m.chunks->params));
  // The index the signature covers, or the payload is not what was signed.
  if (describe_chunk_index(chunks, m.chunks->params).index_sha256 != m.chunks->index_sha256)
    return Error(Errc::checksum, bundle.path().string() +
                                     ": the payload's chunks differ from the signed index "
                                     "(bundle altered or corrupt)");
  return chunks;
}

}  // namespace ef::signing
