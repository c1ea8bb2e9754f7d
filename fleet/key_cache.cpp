#include "fleet/key_cache.hpp"

namespace ef::fleet {

Result<std::shared_ptr<const signing::PublicKey>> KeyCache::get(const std::string& id,
                                                                const std::string& pem) {
  {
    std::lock_guard<std::mutex> hold(mutex_);
    auto it = keys_.find(id);
    if (it != keys_.end() && it->second.first == pem) return it->second.second;
  }
  // Parsed outside the lock; two threads may parse the same key at once,
  // and either result is the same key.
  EF_ASSIGN(auto key, signing::PublicKey::from_pem(pem));
  auto shared = std::make_shared<const signing::PublicKey>(std::move(key));
  std::lock_guard<std::mutex> hold(mutex_);
  auto it = keys_.find(id);
  if (it == keys_.end() && keys_.size() >= capacity_ && !keys_.empty()) keys_.erase(keys_.begin());
  keys_[id] = Entry(pem, shared);
  return shared;
}

std::optional<std::pair<std::string, std::shared_ptr<const signing::PublicKey>>> KeyCache::find(
    const std::string& id) const {
  std::lock_guard<std::mutex> hold(mutex_);
  auto it = keys_.find(id);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

size_t KeyCache::size() const {
  std::lock_guard<std::mutex> hold(mutex_);
  return keys_.size();
}

}  // namespace ef::fleet
