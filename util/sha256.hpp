// SHA-256 over streams and files (OpenSSL EVP behind this interface).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef {

/// Incremental SHA-256. Move-only; owns its OpenSSL context.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  /// Feeds `size` bytes at `data` into the digest.
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  /// Finishes and returns the digest as 64 lower-case hex characters.
  std::string hex_digest();
  /// The digest of what was fed so far, leaving this hasher open for more
  /// (e.g. an image's digest on the way to the digest of image + tree).
  std::string hex_digest_so_far() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Returns the lower-case hex sha256 of `data`.
std::string sha256_hex(std::string_view data);

/// Returns the lower-case hex sha256 of everything in the open file `fd`
/// (read with pread from offset 0, so the file offset is left alone);
/// `name` is for messages. When `stop` is given and becomes true, stops
/// between two reads with an Errc::io error.
Result<std::string> sha256_fd(int fd, const std::string& name,
                              const std::atomic<bool>* stop = nullptr);

/// Returns the lower-case hex sha256 of the file at `path`; `stop` as for
/// sha256_fd.
Result<std::string> sha256_file(const std::filesystem::path& path,
                                const std::atomic<bool>* stop = nullptr);

/// True when `s` is 64 hex characters (either case).
bool is_sha256_hex(std::string_view s);

}  // namespace ef
