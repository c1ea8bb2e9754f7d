// Container images from registries and other teams: an OCI archive or a
// `docker save` archive (a tar of index.json / manifest.json and blobs),
// as a profile's OCI layer (merged into the tree layer by layer) and as a
// pack's preloaded image (checked blob by blob).
#include <filesystem>

#include "builder/packs/image_archive.hpp"
#include "builder/tree/inputs.hpp"
#include "builder/tree/tree.hpp"
#include "fuzz/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = ef::fuzz::scratch_dir() / "image.tar";
  ef::fuzz::write_file(file, ef::fuzz::as_view(data, size));
  ef::fuzz::trace("verify_image_archive", ef::packs::verify_image_archive(file, "images/app.tar"));
  ef::tree::Tree tree(1747699200);
  ef::fuzz::trace("apply_oci", ef::tree::apply_oci(tree, file, "", "layer 1 (oci image.tar)"));
  return 0;
}
