#include "builder/build/inputs.hpp"

#include "builder/cluster/node_layer.hpp"
#include "builder/fetch/mmdebstrap.hpp"
#include "builder/tree/entry_index.hpp"
#include "builder/tree/inputs.hpp"
#include "util/sha256.hpp"

namespace ef::build {

namespace {

namespace fs = std::filesystem;
using profile::ArtifactRef;
using profile::Base;
using profile::Layer;
using profile::Profile;

// Paths in messages and the manifest are relative to the profile, so the
// manifest does not depend on where the checkout lives.
std::string shown(const Profile& p, const fs::path& path) {
  auto rel = path.lexically_relative(p.file.parent_path());
  return rel.empty() ? path.string() : rel.string();
}

// Sets in.sha256 for the local file in.local: from the cache's digest memo
// when the file is unchanged, else by hashing it now, or (with `may_defer`)
// by leaving in.identity set so that an InputHasher hashes it while the
// image is built.
Result<void> local_digest(fetch::Cache& cache, bool may_defer, ResolvedInput& in) {
  EF_ASSIGN(auto identity, fetch::file_identity(in.local));
  auto memo = cache.digest_memo();
  if (auto known = memo.lookup(in.local, identity)) {
    in.sha256 = *known;
  } else if (may_defer) {
    in.identity = identity;
  } else {
    EF_ASSIGN(in.sha256, sha256_file(in.local));
    memo.remember(in.local, identity, in.sha256);
  }
  return Ok{};
}

Result<ResolvedInput> resolve_artifact(const Profile& p, const ArtifactRef& ref,
                                       fetch::Cache& cache, ResolvedInput in) {
  if (ref.is_remote()) {
    auto blob = cache.fetch(ref.url, ref.sha256);
    if (!blob) return std::move(blob).error().with_context(ref.loc.str() + ": " + in.role);
    in.local = *blob;
    in.sha256 = ref.sha256;
    in.record["url"] = ref.url;
  } else {
    in.local = ref.path;
    in.record["path"] = shown(p, ref.path);
    std::error_code ec;
    if (fs::is_directory(ref.path, ec)) return in;  // OCI layout directories have no single digest
    // A pinned file is checked before use; an unpinned tarball may be hashed later.
    bool may_defer = ref.sha256.empty() && in.kind == "tarball";
    auto digested = local_digest(cache, may_defer, in);
    if (!digested) return std::move(digested).error().with_context(ref.loc.str() + ": " + in.role);
    if (in.identity) return in;
    if (!ref.sha256.empty() && in.sha256 != ref.sha256)
      return Error(Errc::checksum, ref.loc.str() + ": " + in.role + ": " + ref.path.string() +
                                       " has sha256 " + in.sha256 + ", the profile pins " +
                                       ref.sha256);
  }
  in.record["sha256"] = in.sha256;
  return in;
}

Result<ResolvedInput> resolve_base(const Profile& p, fetch::Cache& cache,
                                   std::optional<int64_t> epoch) {
  const Base& base = p.base;
  ResolvedInput in;
  in.role = "base";
  switch (base.kind) {
    case Base::Kind::tarball:
      in.kind = "tarball";
      break;
    case Base::Kind::oci:
      in.kind = "oci";
      break;
    case Base::Kind::mmdebstrap:
      in.kind = "mmdebstrap";
      break;
    case Base::Kind::none:
      return Error(Errc::invalid_profile, p.file.string() + ": spec.base is required");
  }
  in.record = {{"role", in.role}, {"kind", in.kind}};
  if (base.kind == Base::Kind::tarball) return resolve_artifact(p, base.tarball, cache, in);
  if (base.kind == Base::Kind::oci) {
    in.record["ref"] = base.oci.ref;
    return resolve_artifact(p, base.oci.source, cache, in);
  }
  const auto& recipe = base.mmdebstrap;
  auto tarball = fetch::materialize_mmdebstrap(cache, recipe, epoch);
  if (!tarball) return std::move(tarball).error().with_context(recipe.loc.str() + ": base");
  in.local = *tarball;
  EF_TRY(local_digest(cache, /*may_defer=*/true, in));
  if (!in.sha256.empty()) in.record["sha256"] = in.sha256;
  in.record["recipe"] = {{"suite", recipe.suite},
                         {"variant", recipe.variant},
                         {"architecture", recipe.architecture},
                         {"components", recipe.components},
                         {"packages", recipe.packages},
                         {"mirror", recipe.mirror},
                         {"cacheKey", fetch::mmdebstrap_cache_key(recipe, epoch)}};
  return in;
}

Result<ResolvedInput> resolve_layer(const Profile& p, size_t index, fetch::Cache& cache) {
  const Layer& layer = p.layers[index];
  ResolvedInput in;
  in.role = "layer " + std::to_string(index + 1);
  in.record = {{"role", in.role}};
  switch (layer.kind) {
    case Layer::Kind::tarball:
      in.kind = "tarball";
      in.record["kind"] = in.kind;
      return resolve_artifact(p, layer.tarball, cache, in);
    case Layer::Kind::oci:
      in.kind = "oci";
      in.record["kind"] = in.kind;
      in.record["ref"] = layer.oci.ref;
      return resolve_artifact(p, layer.oci.source, cache, in);
    case Layer::Kind::directory:
      in.kind = "directory";
      in.local = layer.directory;
      in.record["kind"] = in.kind;
      in.record["path"] = shown(p, layer.directory);
      return in;
    case Layer::Kind::files: {
      in.kind = "files";
      in.record["kind"] = in.kind;
      nlohmann::json files = nlohmann::json::array();
      for (const auto& f : layer.files) {
        nlohmann::json entry = {{"path", f.path}};
        if (f.content) {
          entry["sha256"] = sha256_hex(*f.content);
        } else {
          EF_ASSIGN(auto digest, sha256_file(f.source));
          entry["source"] = shown(p, f.source);
          entry["sha256"] = digest;
        }
        files.push_back(entry);
      }
      in.record["files"] = files;
      return in;
    }
  }
  return Error(Errc::internal, "unknown layer kind");
}

std::string base_label(const Profile& p, const ResolvedInput& in) {
  if (in.kind == "mmdebstrap") return "base (mmdebstrap " + p.base.mmdebstrap.suite + ")";
  const ArtifactRef& ref = in.kind == "oci" ? p.base.oci.source : p.base.tarball;
  return "base (" + in.kind + " " + ref.describe() + ")";
}

}  // namespace

Result<std::vector<std::string>> missing_offline(const Profile& p, const fetch::Cache& cache,
                                                 std::optional<int64_t> epoch,
                                                 const std::string& mirror) {
  std::vector<std::string> missing;
  auto check = [&](const ArtifactRef& ref, const std::string& role) {
    if (ref.is_remote() && !cache.has_blob(ref.sha256))
      missing.push_back(ref.loc.str() + ": " + role + ": " + ref.url + " (sha256 " + ref.sha256 +
                        ")");
  };
  if (p.base.kind == Base::Kind::tarball) check(p.base.tarball, "base");
  if (p.base.kind == Base::Kind::oci) check(p.base.oci.source, "base");
  if (p.base.kind == Base::Kind::mmdebstrap) {
    std::string key = fetch::mmdebstrap_cache_key(p.base.mmdebstrap, epoch);
    std::error_code ec;
    if (!fs::exists(cache.keyed_path(key), ec))
      missing.push_back(p.base.mmdebstrap.loc.str() + ": base: mmdebstrap " +
                        p.base.mmdebstrap.suite + " (recipe " + key.substr(0, 12) +
                        "); run the build once online");
  }
  for (size_t i = 0; i < p.layers.size(); ++i) {
    std::string role = "layer " + std::to_string(i + 1);
    if (p.layers[i].kind == Layer::Kind::tarball) check(p.layers[i].tarball, role);
    if (p.layers[i].kind == Layer::Kind::oci) check(p.layers[i].oci.source, role);
  }
  EF_ASSIGN(auto artifacts, cluster::missing_artifacts(p, cache, mirror));
  missing.insert(missing.end(), artifacts.begin(), artifacts.end());
  return missing;
}

Result<std::vector<ResolvedInput>> resolve_inputs(const Profile& p, fetch::Cache& cache,
                                                  std::optional<int64_t> epoch) {
  std::vector<ResolvedInput> inputs;
  EF_ASSIGN(auto base, resolve_base(p, cache, epoch));
  inputs.push_back(std::move(base));
  for (size_t i = 0; i < p.layers.size(); ++i) {
    EF_ASSIGN(auto layer, resolve_layer(p, i, cache));
    inputs.push_back(std::move(layer));
  }
  return inputs;
}

Result<uint32_t> compose_tree(const Profile& p, const std::vector<ResolvedInput>& inputs,
                              int64_t mtime, tree::Tree& tree,
                              const std::filesystem::path& entry_indexes,
                              EntryIndexStats* index_stats) {
  uint32_t base_layers = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ResolvedInput& in = inputs[i];
    const Layer* layer = i == 0 ? nullptr : &p.layers[i - 1];
    std::string label = i == 0 ? base_label(p, in) : layer->describe(i - 1);
    const profile::SourceLoc& loc = i == 0 ? p.base.loc : layer->loc;
    Result<void> applied = Ok{};
    if (in.kind == "tarball" || in.kind == "mmdebstrap") {
      tree::SourceInfo src;
      src.path = in.local.string();
      src.label = label;
      if (!entry_indexes.empty() && !in.sha256.empty()) {
        auto use =
            tree::apply_archive_indexed(tree, std::move(src), entry_indexes / (in.sha256 + ".idx"));
        if (use && index_stats) {
          index_stats->used += *use == tree::EntryIndexUse::used_index ? 1 : 0;
          index_stats->written += *use == tree::EntryIndexUse::wrote_index ? 1 : 0;
        }
        applied = use ? Result<void>(Ok{}) : Result<void>(std::move(use).error());
      } else {
        applied = tree::apply_archive(tree, std::move(src));
      }
    } else if (in.kind == "oci") {
      applied = tree::apply_oci(tree, in.local, i == 0 ? p.base.oci.ref : layer->oci.ref, label);
    } else if (in.kind == "directory") {
      applied =
          tree::apply_directory(tree, tree::DirectoryInput{in.local, layer->uid.value_or(0),
                                                           layer->gid.value_or(0), mtime, label});
    } else {
      std::vector<tree::InlineFile> files;
      for (const auto& f : layer->files)
        files.push_back({f.path, f.content, f.source, f.mode, f.uid, f.gid});
      applied = tree::apply_files(tree, files, mtime, label);
    }
    if (!applied) return std::move(applied).error().with_context(loc.str());
    if (i == 0) base_layers = tree.layer();
  }
  return base_layers;
}

InputHasher::InputHasher(const std::vector<ResolvedInput>& inputs) {
  std::vector<fs::path> files;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].identity) continue;
    indexes_.push_back(i);
    files.push_back(inputs[i].local);
  }
  digests_.assign(files.size(), Result<std::string>(std::string()));
  if (!files.empty()) thread_ = std::thread([this, files = std::move(files)] { run(files); });
}

InputHasher::~InputHasher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void InputHasher::run(std::vector<fs::path> files) {
  for (size_t i = 0; i < files.size() && !stop_; ++i) digests_[i] = sha256_file(files[i], &stop_);
}

Result<void> InputHasher::finish(std::vector<ResolvedInput>& inputs, const fetch::Cache& cache) {
  if (thread_.joinable()) thread_.join();
  for (size_t k = 0; k < indexes_.size(); ++k) {
    ResolvedInput& in = inputs[indexes_[k]];
    if (!digests_[k]) return std::move(digests_[k]).error().with_context(in.role);
    EF_ASSIGN(auto now, fetch::file_identity(in.local));
    if (now != *in.identity)
      return Error(Errc::io, in.role + ": " + in.local.string() +
                                 " changed while the image was built; build again");
    in.sha256 = *digests_[k];
    in.record["sha256"] = in.sha256;
    cache.digest_memo().remember(in.local, *in.identity, in.sha256);
  }
  return Ok{};
}

}  // namespace ef::build
