// Device public keys, parsed once: the report handler verifies every report
// with its device's key, and parsing the PEM (OpenSSL's decoders) costs
// more than the signature check itself. A key is found by device ID *and*
// the PEM text just read from the database, so the cache can never answer
// with a key the database no longer holds (a device an operator removed
// and that registered again with a new key), whichever service instance
// made the change.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "signing/keys.hpp"
#include "util/error.hpp"

namespace ef::fleet {

class KeyCache {
 public:
  /// Holds at most `capacity` keys; past that an arbitrary one makes room.
  explicit KeyCache(size_t capacity = 65536) : capacity_(capacity) {}

  /// The key `pem` (the device's registered PEM) of device `id`, parsed
  /// now or before. Errors: the PEM is not a public key.
  Result<std::shared_ptr<const signing::PublicKey>> get(const std::string& id,
                                                        const std::string& pem);

  /// The PEM and parsed key last asked for device `id`, if any: the key it
  /// had when the database was last read for it, perhaps not any more.
  std::optional<std::pair<std::string, std::shared_ptr<const signing::PublicKey>>> find(
      const std::string& id) const;

  size_t size() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const signing::PublicKey>>;  // PEM, key
  size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> keys_;  // by device ID
};

}  // namespace ef::fleet
