// grubenv blocks as the agent reads them after a power cut: any 1024 bytes
// (or a wrong size). A block that parses renders back to a block that
// parses to the same variables.
#include "device/grubenv.hpp"
#include "fuzz/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto env = ef::device::parse_grubenv(ef::fuzz::as_view(data, size));
  ef::fuzz::trace("parse_grubenv", env);
  if (!env) return 0;
  auto block = ef::device::render_grubenv(*env);
  if (!block) return 0;  // names or values GRUB stores but we refuse to write
  EF_FUZZ_CHECK(block->size() == ef::device::kGrubEnvSize);
  auto again = ef::device::parse_grubenv(*block);
  EF_FUZZ_CHECK(again && *again == *env);
  return 0;
}
