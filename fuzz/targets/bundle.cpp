// Bundle heads as a device downloads them from a server nobody trusts: the
// 64-byte header, the manifest, the signature block and its padding, then
// the manifest parsed and the signatures checked against a keyring
// (fuzz/keys/, whose key signed the seeds). The first byte picks what the
// rest is: a whole head (as read_front reads a .efbh or a bundle's front), a
// manifest, a signature block, a header or base64. Strict parsers must be
// exact inverses of their encoders: what parses encodes to the same bytes.
#include <algorithm>
#include <cstring>

#include "fuzz/keyring.hpp"
#include "fuzz/support.hpp"
#include "signing/bundle.hpp"
#include "signing/bundle_format.hpp"

namespace {

using namespace ef::signing;

void head(std::string_view bytes) {
  auto read_at = [bytes](uint64_t offset, char* out, size_t size) -> ef::Result<void> {
    if (offset > bytes.size() || size > bytes.size() - offset)
      return ef::Error(ef::Errc::bad_bundle, "short read");
    std::memcpy(out, bytes.data() + offset, size);
    return ef::Ok{};
  };
  auto front = BundleHead::read_front(read_at);
  ef::fuzz::trace("read_front", front);
  if (!front) return;
  ef::fuzz::trace("check_signatures", front->check_signatures(ef::fuzz::fuzz_keyring()));
  ef::fuzz::trace("manifest", front->manifest());
  auto whole = BundleHead::read(read_at, bytes.size());
  ef::fuzz::trace("read", whole);
  if (whole) (void)whole->manifest();
}

void manifest(std::string_view bytes) {
  auto m = ef::fuzz::check_round_trip("parse_manifest", bytes, parse_manifest, encode_manifest);
  if (m) (void)m->attachments_size();
}

void signatures(std::string_view bytes) {
  (void)ef::fuzz::check_round_trip("parse_signature_block", bytes, parse_signature_block,
                                   encode_signature_block);
}

void header(std::string_view bytes) {
  auto h = decode_header(bytes);
  ef::fuzz::trace("decode_header", h);
  if (!h) return;
  EF_FUZZ_CHECK(encode_header(*h) == bytes.substr(0, kBundleHeaderSize));
}

void base64(std::string_view bytes) {
  auto raw = base64_decode(bytes);
  ef::fuzz::trace("base64_decode", raw);
  if (!raw) return;
  EF_FUZZ_CHECK(base64_encode(*raw) == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto rest = ef::fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      head(rest);
      break;
    case 1:
      manifest(rest);
      break;
    case 2:
      signatures(rest);
      break;
    case 3:
      header(rest);
      break;
    default:
      base64(rest);
      break;
  }
  return 0;
}
