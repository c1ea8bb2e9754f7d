// glibc 2.36 added arc4random, and GCC 12's static libstdc++ (linked into
// the agent, see CMakeLists.txt) refers to it from std::random_device.
// Defining it here resolves that reference inside the agent, so the binary
// needs no GLIBC_2.36 symbol and runs on Ubuntu 22.04 (glibc 2.35); the
// builder checks this ceiling (docs/agent.md). Same contract as glibc's:
// it never fails.
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

extern "C" uint32_t arc4random() noexcept {
  uint32_t value = 0;
  auto* p = reinterpret_cast<unsigned char*>(&value);
  size_t got = 0;
  while (got < sizeof value) {
    ssize_t n = getrandom(p + got, sizeof value - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      std::abort();
    }
  }
  return value;
}
