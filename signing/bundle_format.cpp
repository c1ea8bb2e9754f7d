#include "signing/bundle_format.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "util/canonical_json.hpp"
#include "util/json_fields.hpp"
#include "util/sha256.hpp"

namespace ef::signing {
namespace {

using nlohmann::json;

constexpr size_t kChecksumOffset = 56;  // header bytes [56, 64): sha256 of [0, 56), first 8 bytes
constexpr size_t kReservedOffset = 40;  // header bytes [40, 56) must be zero
constexpr size_t kMaxSignatureBytes = 1024;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxPathBytes = 4096;

Error bad(const std::string& message) {
  return Error(Errc::bad_bundle, message);
}

// ---- little-endian fields --------------------------------------------------

void put_le(std::string& out, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view in, size_t offset, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[offset + i])) << (8 * i);
  }
  return v;
}

int nibble(char c) {
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

/// The first 8 bytes of sha256(first_56), raw.
std::string header_checksum(std::string_view first_56) {
  std::string hex = sha256_hex(first_56);
  std::string raw;
  for (size_t i = 0; i < 16; i += 2)
    raw.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return raw;
}

// ---- strict JSON object reading --------------------------------------------

/// The manifest's strict object reader: errors are Errc::bad_bundle.
class Fields : public JsonFields {
 public:
  Fields(const json& object, std::string path)
      : JsonFields(object, std::move(path), Errc::bad_bundle,
                   "this edgeforge reads format " + std::to_string(kBundleFormatVersion)) {}
  Result<SemVer> version(const char* key) { return JsonFields::version(key, kMaxNameBytes); }
};

Result<Digest> read_digest(Fields& parent, const char* key) {
  EF_ASSIGN(const json* object, parent.object(key));
  Fields f(*object, std::string(key) + ".");
  Digest d;
  EF_ASSIGN(d.size, f.uint("size"));
  EF_ASSIGN(d.sha256, f.hex("sha256", 64, 64));
  EF_TRY(f.finish());
  return d;
}

Result<VerityInfo> read_verity(Fields& parent) {
  EF_ASSIGN(const json* object, parent.object("verity"));
  Fields f(*object, "verity.");
  VerityInfo v;
  EF_ASSIGN(v.algorithm, f.string("algorithm", 16));
  if (v.algorithm != "sha256") return bad("\"verity.algorithm\" must be \"sha256\"");
  EF_ASSIGN(v.data_block_size, f.uint32("dataBlockSize"));
  EF_ASSIGN(v.hash_block_size, f.uint32("hashBlockSize"));
  EF_ASSIGN(v.data_blocks, f.uint("dataBlocks"));
  EF_ASSIGN(v.hash_offset, f.uint("hashOffset"));
  EF_ASSIGN(v.tree_size, f.uint("treeSize"));
  EF_ASSIGN(v.root_hash_hex, f.hex("rootHash", 64, 64));
  EF_ASSIGN(v.salt_hex, f.hex("salt", 2, 512));
  EF_TRY(f.finish());
  if (v.data_block_size != 4096 || v.hash_block_size != 4096) {
    return bad("\"verity\" block sizes must be 4096 in format 1");
  }
  return v;
}

Result<BootFile> read_boot_file(const json& item, size_t index) {
  std::string path = "boot[" + std::to_string(index) + "].";
  if (!item.is_object())
    return bad("\"" + path.substr(0, path.size() - 1) + "\" must be an object");
  Fields f(item, path);
  BootFile b;
  EF_ASSIGN(b.role, f.string("role", 16));
  if (b.role != "kernel" && b.role != "initrd") {
    return bad(f.name("role") + " must be \"kernel\" or \"initrd\"");
  }
  EF_ASSIGN(b.path, f.string("path", kMaxPathBytes));
  if (b.path[0] != '/') return bad(f.name("path") + " must be an absolute path in the image");
  EF_ASSIGN(b.size, f.uint("size"));
  EF_ASSIGN(b.sha256, f.hex("sha256", 64, 64));
  EF_TRY(f.finish());
  return b;
}

Result<ChunkIndexInfo> read_chunks(Fields& parent) {
  EF_ASSIGN(const json* object, parent.object("chunks"));
  Fields f(*object, "chunks.");
  ChunkIndexInfo c;
  EF_ASSIGN(std::string algorithm, f.string("algorithm", 32));
  auto named = parse_chunk_algorithm(algorithm);
  if (!named)
    return bad("\"chunks.algorithm\" must be \"" + std::string(kSquashfsChunkAlgorithm) +
               "\" or \"" + std::string(kGearChunkAlgorithm) + "\"");
  c.params.algorithm = *named;
  EF_ASSIGN(c.params.min_size, f.uint32("minSize"));
  EF_ASSIGN(c.params.avg_size, f.uint32("avgSize"));
  EF_ASSIGN(c.params.max_size, f.uint32("maxSize"));
  if (auto ok = c.params.check(); !ok) return bad("\"chunks\": " + ok.error().message());
  EF_ASSIGN(c.count, f.uint("count"));
  EF_ASSIGN(c.index_size, f.uint("indexSize"));
  EF_ASSIGN(c.index_sha256, f.hex("indexSha256", 64, 64));
  EF_TRY(f.finish());
  return c;
}

Result<Attachment> read_attachment(const json& item, size_t index) {
  std::string path = "attachments[" + std::to_string(index) + "].";
  if (!item.is_object())
    return bad("\"" + path.substr(0, path.size() - 1) + "\" must be an object");
  Fields f(item, path);
  Attachment a;
  EF_ASSIGN(a.role, f.string("role", 32));
  if (!known_attachment_role(a.role))
    return bad(f.name("role") + " must be \"sbom\", \"provenance\" or \"kernel-image\"");
  EF_ASSIGN(a.name, f.string("name", kMaxNameBytes));
  if (a.name.find('/') != std::string::npos || a.name == "." || a.name == "..")
    return bad(f.name("name") + " must be a file name without '/'");
  EF_ASSIGN(a.media_type, f.string("mediaType", 128));
  EF_ASSIGN(a.size, f.uint("size"));
  if (a.size == 0 || a.size > kMaxAttachmentSize)
    return bad(f.name("size") + " must be 1 to " + std::to_string(kMaxAttachmentSize) + " bytes");
  EF_ASSIGN(a.sha256, f.hex("sha256", 64, 64));
  EF_TRY(f.finish());
  return a;
}

/// The invariants both directions enforce.
Result<void> check_consistency(const BundleManifest& m) {
  const VerityInfo& v = m.verity;
  if (m.image.size == 0 || m.image.size % v.data_block_size != 0) {
    return bad("\"image.size\" must be a non-zero multiple of 4096");
  }
  if (v.data_blocks != m.image.size / v.data_block_size || v.hash_offset != m.image.size) {
    return bad(
        "\"verity\" does not describe the image (dataBlocks and hashOffset must match "
        "image.size)");
  }
  if (m.payload.size != m.image.size + v.tree_size) {
    return bad("\"payload.size\" must be image.size + verity.treeSize");
  }
  if (m.min_version > m.version) {
    return bad("\"minVersion\" " + m.min_version.str() + " is above \"version\" " +
               m.version.str());
  }
  if (m.boot.size() > kMaxBootFiles) return bad("\"boot\" lists more than 16 files");
  if (m.attachments.size() > kMaxAttachments)
    return bad("\"attachments\" lists more than " + std::to_string(kMaxAttachments));
  std::set<std::string> names;
  for (const auto& a : m.attachments)
    if (!names.insert(a.name).second) return bad("\"attachments\" names " + a.name + " twice");
  if (m.chunks) {
    // Every chunk is at least 1 byte and each line at most 86: a bound on
    // what a device reads before it checks the index's hash.
    const ChunkIndexInfo& c = *m.chunks;
    uint64_t fewest = (m.payload.size + c.params.max_size - 1) / c.params.max_size;
    if (c.count < fewest || c.count > m.payload.size)
      return bad("\"chunks.count\" " + std::to_string(c.count) + " cannot cover the payload");
    if (c.index_size > c.count * kMaxChunkIndexLine || c.index_size < c.count * 68)
      return bad("\"chunks.indexSize\" does not fit \"chunks.count\"");
  }
  return Ok{};
}

json digest_json(const Digest& d) {
  return {{"size", d.size}, {"sha256", d.sha256}};
}

}  // namespace

bool known_attachment_role(std::string_view role) {
  return role == "sbom" || role == "provenance" || role == "kernel-image";
}

const Attachment* BundleManifest::attachment(std::string_view role) const {
  for (const auto& a : attachments)
    if (a.role == role) return &a;
  return nullptr;
}

uint64_t BundleManifest::attachments_size() const {
  uint64_t total = 0;
  for (const auto& a : attachments) total += a.size;
  return total;
}

// ---- header ----------------------------------------------------------------

uint64_t BundleHeader::payload_offset_for(uint32_t manifest_size, uint32_t signatures_size) {
  uint64_t end = kBundleHeaderSize + uint64_t{manifest_size} + signatures_size;
  return (end + kPayloadAlignment - 1) / kPayloadAlignment * kPayloadAlignment;
}

std::string encode_header(const BundleHeader& h) {
  std::string out(kBundleMagic);
  put_le(out, h.format_version, 4);
  put_le(out, kBundleHeaderSize, 4);
  put_le(out, h.manifest_size, 4);
  put_le(out, h.signatures_size, 4);
  put_le(out, h.payload_offset, 8);
  put_le(out, h.payload_size, 8);
  out.append(kChecksumOffset - kReservedOffset, '\0');
  out += header_checksum(out);
  return out;
}

Result<BundleHeader> decode_header(std::string_view bytes) {
  if (bytes.size() < kBundleHeaderSize) {
    return bad("file is " + std::to_string(bytes.size()) +
               " bytes, shorter than the 64-byte bundle header (truncated or not a bundle)");
  }
  if (bytes.substr(0, kBundleMagic.size()) != kBundleMagic) {
    return bad("not an edgeforge bundle (no EFBUNDLE magic at byte 0)");
  }
  if (header_checksum(bytes.substr(0, kChecksumOffset)) !=
      bytes.substr(kChecksumOffset, kBundleHeaderSize - kChecksumOffset)) {
    return bad("header checksum mismatch (bytes 0-63 are corrupt)");
  }
  BundleHeader h;
  h.format_version = static_cast<uint32_t>(get_le(bytes, 8, 4));
  if (h.format_version != kBundleFormatVersion) {
    return bad("bundle format version " + std::to_string(h.format_version) +
               " is not supported (this edgeforge reads version 1); upgrade edgeforge");
  }
  if (get_le(bytes, 12, 4) != kBundleHeaderSize) return bad("header size field is not 64");
  for (size_t i = kReservedOffset; i < kChecksumOffset; ++i) {
    if (bytes[i] != '\0') return bad("reserved header byte " + std::to_string(i) + " is not zero");
  }
  h.manifest_size = static_cast<uint32_t>(get_le(bytes, 16, 4));
  h.signatures_size = static_cast<uint32_t>(get_le(bytes, 20, 4));
  h.payload_offset = get_le(bytes, 24, 8);
  h.payload_size = get_le(bytes, 32, 8);
  if (h.manifest_size == 0 || h.manifest_size > kMaxManifestSize) {
    return bad("manifest size " + std::to_string(h.manifest_size) + " is outside 1.." +
               std::to_string(kMaxManifestSize) + " bytes");
  }
  if (h.signatures_size == 0 || h.signatures_size > kMaxSignatureBlockSize) {
    return bad("signature block size " + std::to_string(h.signatures_size) + " is outside 1.." +
               std::to_string(kMaxSignatureBlockSize) + " bytes");
  }
  if (h.payload_offset != BundleHeader::payload_offset_for(h.manifest_size, h.signatures_size)) {
    return bad("payload offset " + std::to_string(h.payload_offset) +
               " is not where the format puts it");
  }
  if (h.payload_size == 0 || h.payload_size > UINT64_MAX - h.payload_offset) {
    return bad("payload size " + std::to_string(h.payload_size) + " is impossible");
  }
  return h;
}

// ---- signatures ------------------------------------------------------------

Result<std::string> encode_signature_block(const std::vector<BundleSignature>& signatures) {
  json list = json::array();
  for (const auto& s : signatures) {
    list.push_back({{"algorithm", s.algorithm},
                    {"keyId", s.key_id},
                    {"signature", base64_encode(s.signature)}});
  }
  return canonical_json({{"signatures", list}});
}

Result<std::vector<BundleSignature>> parse_signature_block(std::string_view bytes) {
  auto parsed = parse_canonical_json(bytes, JsonLimits{kMaxSignatureBlockSize, 4});
  if (!parsed) return bad("signature block is " + parsed.error().message());
  if (!parsed->is_object()) return bad("signature block must be a JSON object");
  Fields top(*parsed, "");
  EF_ASSIGN(const json* list, top.array("signatures"));
  EF_TRY(top.finish());
  if (list->empty() || list->size() > kMaxSignatures) {
    return bad("signature block must hold 1 to " + std::to_string(kMaxSignatures) + " signatures");
  }
  std::vector<BundleSignature> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    std::string where = "signatures[" + std::to_string(i) + "].";
    if (!item.is_object())
      return bad("\"signatures[" + std::to_string(i) + "]\" must be an object");
    Fields f(item, where);
    BundleSignature s;
    EF_ASSIGN(s.algorithm, f.string("algorithm", 64));
    EF_ASSIGN(s.key_id, f.hex("keyId", 64, 64));
    EF_ASSIGN(std::string b64, f.string("signature", kMaxSignatureBytes * 2));
    EF_TRY(f.finish());
    auto raw = base64_decode(b64);
    if (!raw) return bad(f.name("signature") + " is not canonical base64");
    if (raw->size() > kMaxSignatureBytes) return bad(f.name("signature") + " is too long");
    s.signature = std::move(*raw);
    out.push_back(std::move(s));
  }
  return out;
}

// ---- manifest --------------------------------------------------------------

Result<std::string> encode_manifest(const BundleManifest& m) {
  EF_TRY(check_consistency(m));
  json boot = json::array();
  for (const auto& b : m.boot) {
    boot.push_back({{"role", b.role}, {"path", b.path}, {"size", b.size}, {"sha256", b.sha256}});
  }
  const VerityInfo& v = m.verity;
  json manifest = {{"formatVersion", m.format_version},
                   {"product", m.product},
                   {"compatible", m.compatible},
                   {"version", m.version.str()},
                   {"minVersion", m.min_version.str()},
                   {"epoch", m.epoch},
                   {"image", digest_json(m.image)},
                   {"payload", digest_json(m.payload)},
                   {"verity",
                    {{"algorithm", v.algorithm},
                     {"dataBlockSize", v.data_block_size},
                     {"hashBlockSize", v.hash_block_size},
                     {"dataBlocks", v.data_blocks},
                     {"hashOffset", v.hash_offset},
                     {"treeSize", v.tree_size},
                     {"rootHash", v.root_hash_hex},
                     {"salt", v.salt_hex}}},
                   {"boot", boot}};
  if (m.chunks) {
    const ChunkIndexInfo& c = *m.chunks;
    manifest["chunks"] = {{"algorithm", chunk_algorithm_name(c.params.algorithm)},
                          {"minSize", c.params.min_size},
                          {"avgSize", c.params.avg_size},
                          {"maxSize", c.params.max_size},
                          {"count", c.count},
                          {"indexSize", c.index_size},
                          {"indexSha256", c.index_sha256}};
  }
  if (!m.attachments.empty()) {
    json list = json::array();
    for (const auto& a : m.attachments)
      list.push_back({{"role", a.role},
                      {"name", a.name},
                      {"mediaType", a.media_type},
                      {"size", a.size},
                      {"sha256", a.sha256}});
    manifest["attachments"] = list;
  }
  EF_ASSIGN(std::string bytes, canonical_json(manifest));
  // What we sign must be what every reader accepts.
  auto check = parse_manifest(bytes);
  if (!check)
    return Error(Errc::invalid_argument, "cannot encode manifest: " + check.error().message());
  return bytes;
}

Result<BundleManifest> parse_manifest(std::string_view bytes) {
  auto parsed = parse_canonical_json(bytes, JsonLimits{kMaxManifestSize, 8});
  if (!parsed) return bad("manifest is " + parsed.error().message());
  if (!parsed->is_object()) return bad("manifest must be a JSON object");
  Fields f(*parsed, "");
  BundleManifest m;
  EF_ASSIGN(m.format_version, f.uint32("formatVersion"));
  if (m.format_version != kBundleFormatVersion) {
    return bad("manifest format version " + std::to_string(m.format_version) +
               " is not supported (this edgeforge reads version 1)");
  }
  EF_ASSIGN(m.product, f.string("product", kMaxNameBytes));
  EF_ASSIGN(m.compatible, f.string("compatible", kMaxNameBytes));
  EF_ASSIGN(m.version, f.version("version"));
  EF_ASSIGN(m.min_version, f.version("minVersion"));
  EF_ASSIGN(m.epoch, f.uint("epoch"));
  EF_ASSIGN(m.image, read_digest(f, "image"));
  EF_ASSIGN(m.payload, read_digest(f, "payload"));
  EF_ASSIGN(m.verity, read_verity(f));
  EF_ASSIGN(const json* boot, f.array("boot"));
  if (boot->size() > kMaxBootFiles) return bad("\"boot\" lists more than 16 files");
  for (size_t i = 0; i < boot->size(); ++i) {
    EF_ASSIGN(BootFile b, read_boot_file((*boot)[i], i));
    m.boot.push_back(std::move(b));
  }
  if (f.has("chunks")) {
    EF_ASSIGN(ChunkIndexInfo chunks, read_chunks(f));
    m.chunks = std::move(chunks);
  }
  if (f.has("attachments")) {
    EF_ASSIGN(const json* list, f.array("attachments"));
    if (list->empty() || list->size() > kMaxAttachments)
      return bad("\"attachments\" must list 1 to " + std::to_string(kMaxAttachments) +
                 " documents");
    for (size_t i = 0; i < list->size(); ++i) {
      EF_ASSIGN(Attachment a, read_attachment((*list)[i], i));
      m.attachments.push_back(std::move(a));
    }
  }
  EF_TRY(f.finish());
  EF_TRY(check_consistency(m));
  return m;
}

// ---- base64 ----------------------------------------------------------------

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return bad("bad base64 length");
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return bad("bad base64");
  size_t pad = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<size_t>(n) - pad);
  // EVP_DecodeBlock tolerates whitespace and odd padding bits; only the
  // canonical spelling of these bytes is accepted.
  if (base64_encode(out) != text) return bad("non-canonical base64");
  return out;
}

}  // namespace ef::signing
