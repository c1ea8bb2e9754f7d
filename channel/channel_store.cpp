#include "channel/channel_store.hpp"

#include "channel/channel_dir.hpp"
#include "channel/oci_channel.hpp"
#include "signing/bundle.hpp"
#include "signing/chunk_store.hpp"
#include "signing/oci_store.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"

namespace ef::channel {
namespace {

namespace fs = std::filesystem;

class DirStore final : public ChannelStore {
 public:
  explicit DirStore(fs::path dir) : dir_(std::move(dir)) {}

  std::string where(const std::string& name) const override {
    return channel_path(dir_, name).string();
  }

  Result<std::string> read(const std::string& name) override {
    fs::path path = channel_path(dir_, name);
    std::error_code ec;
    if (!fs::exists(path, ec))
      return Error(Errc::not_found,
                   path.string() + ": no such channel; create it with `edgeforge channel init`");
    return read_file(path);
  }

  Result<void> write(const std::string& name, const std::string& file_bytes) override {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    return write_file_atomic(channel_path(dir_, name), file_bytes);
  }

  Result<Release> release(const std::string& bundle, const std::string& head) override {
    auto path = [](const std::string& p) {
      return p.empty() ? std::nullopt : std::optional<fs::path>(p);
    };
    return release_from_files(dir_, path(bundle), path(head));
  }

 private:
  fs::path dir_;
};

class OciStore final : public ChannelStore {
 public:
  explicit OciStore(std::unique_ptr<OciRegistry> registry) : registry_(std::move(registry)) {}

  std::string where(const std::string& name) const override {
    OciReference ref = registry_->reference();
    ref.tag = name;
    return ref.str();
  }

  Result<std::string> read(const std::string& name) override {
    auto r = read_oci_channel(*registry_, name);
    if (!r && r.error().code() == Errc::not_found)
      return Error(Errc::not_found,
                   where(name) + ": no such channel; create it with `edgeforge channel init`");
    if (!r) return r.error();
    return std::move(r->bytes);
  }

  Result<void> write(const std::string& name, const std::string& file_bytes) override {
    return write_oci_channel(*registry_, name, file_bytes);
  }

  Result<Release> release(const std::string& bundle, const std::string& head) override {
    if (!bundle.empty())
      return Error(Errc::invalid_argument,
                   "--bundle " + bundle +
                       ": a channel in an OCI registry releases published "
                       "heads; publish the bundle with `edgeforge publish " +
                       bundle + " --to " + registry_->reference().str() +
                       "` and give --head VERSION (its tag)");
    if (head.empty())
      return Error(Errc::invalid_argument,
                   "a release needs --head TAG: the tag `edgeforge publish` gave the bundle in " +
                       registry_->reference().str());
    Release r;
    Artifact a;
    a.url = head;
    EF_TRY(resolve_artifact(where("channel"), head));  // a tag of this repository
    auto bytes = signing::fetch_oci_head(*registry_, head, 64ull << 20);
    if (!bytes) return bytes.error();
    a.sha256 = sha256_hex(*bytes);
    a.size = bytes->size();
    auto read_at = [&](uint64_t offset, char* out, size_t size) -> Result<void> {
      if (offset > bytes->size() || size > bytes->size() - offset)
        return Error(Errc::bad_bundle, where(head) + ": the bundle head is short");
      std::copy_n(bytes->data() + offset, size, out);
      return Ok{};
    };
    auto front = signing::BundleHead::read_front(read_at);
    if (!front) return front.error().with_context(where(head));
    auto m = front->manifest();
    if (!m) return m.error().with_context(where(head));
    r.product = m->product;
    r.compatible = m->compatible;
    r.version = m->version;
    r.head = std::move(a);
    return r;
  }

 private:
  std::unique_ptr<OciRegistry> registry_;
};

}  // namespace

std::unique_ptr<ChannelStore> open_dir_store(const fs::path& dir) {
  return std::make_unique<DirStore>(dir);
}

std::unique_ptr<ChannelStore> open_oci_store(std::unique_ptr<OciRegistry> registry) {
  return std::make_unique<OciStore>(std::move(registry));
}

Result<ChannelDoc> read_current(ChannelStore& store, const std::string& name) {
  EF_ASSIGN(std::string bytes, store.read(name));
  auto file = split_channel(bytes);
  if (!file) return file.error().with_context(store.where(name));
  auto doc = parse_doc(file->signed_bytes);
  if (!doc) return doc.error().with_context(store.where(name));
  return doc;
}

Result<std::string> write_channel(ChannelStore& store, const ChannelDoc& doc,
                                  const std::vector<const signing::SigningKey*>& keys) {
  EF_ASSIGN(std::string bytes, sign_channel(doc, keys));
  // The fleet service's rollout state stays while it is about this release.
  if (auto current = store.read(doc.channel)) {
    EF_ASSIGN(bytes, carry_rollout_state(bytes, *current));
  }
  EF_TRY(store.write(doc.channel, bytes));
  return bytes;
}

}  // namespace ef::channel
