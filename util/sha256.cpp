#include "util/sha256.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "util/unique_fd.hpp"

namespace ef {

struct Sha256::Impl {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr);
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) {
  EVP_DigestUpdate(impl_->ctx.get(), data, size);
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx.get(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string Sha256::hex_digest_so_far() const {
  Sha256 copy;
  EVP_MD_CTX_copy_ex(copy.impl_->ctx.get(), impl_->ctx.get());
  return copy.hex_digest();
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

Result<std::string> sha256_fd(int fd, const std::string& name, const std::atomic<bool>* stop) {
  // 128 KiB reads: the buffer stays in the core's L2 cache between the copy
  // out of the page cache and the hash, which 1 MiB buffers do not.
  std::vector<char> buf(128 << 10);
  Sha256 h;
  for (off_t offset = 0;;) {
    if (stop != nullptr && *stop) return Error(Errc::io, "hashing " + name + " was stopped");
    ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(Errc::io, "cannot read " + name, errno);
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    offset += n;
  }
  return h.hex_digest();
}

Result<std::string> sha256_file(const std::filesystem::path& path, const std::atomic<bool>* stop) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(Errc::io, "cannot open " + path.string(), errno);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return sha256_fd(fd.get(), path.string(), stop);
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace ef
