#include "builder/profile/profile.hpp"

namespace ef::profile {

std::string SourceLoc::str() const {
  // Without a line (e.g. the file could not be read) the file alone is the
  // most precise location there is.
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string ArtifactRef::describe() const {
  return is_remote() ? url : path.string();
}

namespace {

// A short name for messages: the file name of a local input, the URL of a
// remote one (the full path is in the errors that need it).
std::string short_name(const ArtifactRef& ref) {
  if (ref.is_remote()) return ref.url;
  auto name = ref.path.filename().string();
  return name.empty() ? ref.path.string() : name;
}

}  // namespace

std::string Layer::describe(size_t index) const {
  std::string what;
  switch (kind) {
    case Kind::tarball:
      what = "tarball " + short_name(tarball);
      break;
    case Kind::directory:
      what = "directory " + directory.filename().string();
      break;
    case Kind::oci:
      what = "oci " + short_name(oci.source);
      if (!oci.ref.empty()) what += ", ref " + oci.ref;
      break;
    case Kind::files:
      what = std::to_string(files.size()) + (files.size() == 1 ? " file" : " files");
      break;
  }
  return "layer " + std::to_string(index + 1) + " (" + what + ")";
}

}  // namespace ef::profile
