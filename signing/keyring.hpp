// A keyring: the public keys a device (or a verifier) trusts, and the key
// IDs it no longer trusts. On disk it is a directory:
//   DIR/*.pub    PEM public keys (SubjectPublicKeyInfo), each trusted
//   DIR/revoked  optional; one key ID (64 hex) per line, '#' starts a comment
// A revoked ID wins over a trusted key with that ID, so revoking is adding a
// line, never deleting a file.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "signing/keys.hpp"
#include "util/error.hpp"

namespace ef::signing {

struct TrustedKey {
  PublicKey key;
  std::filesystem::path file;  // where it came from, for messages
};

class Keyring {
 public:
  /// Loads `dir`. A malformed key file or revoked line is an error naming
  /// the file (and line); a keyring without a single *.pub is an error too.
  static Result<Keyring> load(const std::filesystem::path& dir);

  /// The trusted key with `key_id`, or nullptr.
  const TrustedKey* find(const std::string& key_id) const;
  bool is_revoked(const std::string& key_id) const { return revoked_.count(key_id) > 0; }
  const std::vector<TrustedKey>& keys() const { return keys_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::vector<TrustedKey> keys_;  // sorted by file name
  std::set<std::string> revoked_;
};

}  // namespace ef::signing
