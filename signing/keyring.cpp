#include "signing/keyring.hpp"

#include <algorithm>
#include <sstream>
#include <system_error>

#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::signing {
namespace {

Result<std::set<std::string>> load_revoked(const std::filesystem::path& file) {
  std::set<std::string> ids;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return ids;
  EF_ASSIGN(std::string text, read_file(file));
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = line.substr(0, line.find('#'));
    line.erase(0, line.find_first_not_of(" \t\r"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.empty()) continue;
    std::transform(line.begin(), line.end(), line.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!is_sha256_hex(line)) {
      return Error(Errc::invalid_argument,
                   file.string() + ":" + std::to_string(number) +
                       ": not a key ID (64 hex digits, the sha256 of the public key's DER)");
    }
    ids.insert(line);
  }
  return ids;
}

}  // namespace

Result<Keyring> Keyring::load(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Error(Errc::not_found, "keyring " + dir.string() + " is not a directory");
  }
  Keyring ring;
  ring.dir_ = dir;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".pub") files.push_back(entry.path());
  }
  if (ec) return Error(Errc::io, "cannot list keyring " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto key = PublicKey::load(file);
    if (!key) return std::move(key).error().with_context("keyring");
    ring.keys_.push_back(TrustedKey{std::move(*key), file});
  }
  if (ring.keys_.empty()) {
    return Error(Errc::invalid_argument,
                 "keyring " + dir.string() + " holds no public keys (*.pub files)");
  }
  EF_ASSIGN(ring.revoked_, load_revoked(dir / "revoked"));
  return ring;
}

const TrustedKey* Keyring::find(const std::string& key_id) const {
  for (const auto& k : keys_) {
    if (k.key.key_id() == key_id) return &k;
  }
  return nullptr;
}

}  // namespace ef::signing
