#include "builder/build/build.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "builder/build/agent_step.hpp"
#include "builder/build/bundle_output.hpp"
#include "builder/build/disk_outputs.hpp"
#include "builder/build/inputs.hpp"
#include "builder/build/release.hpp"
#include "builder/build/supply_chain.hpp"
#include "builder/cluster/node_layer.hpp"
#include "builder/profile/profile_loader.hpp"
#include "builder/squashfs/writer.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"
#include "util/staging_dir.hpp"

#ifndef EF_VERSION
#define EF_VERSION "0.0.0"
#endif

namespace ef::build {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A document as the build writes it. Names from archives need not be UTF-8
// (libarchive hands over the raw bytes when they are not); JSON must be, so
// such bytes are written as U+FFFD rather than aborting the build.
std::string json_text(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace) + "\n";
}

// Forwards progress to the caller and logs how long each stage took (-v).
class StageReporter {
 public:
  explicit StageReporter(const BuildOptions& o) : options_(o) {}
  void operator()(const std::string& stage, uint64_t done = 0, uint64_t total = 0) {
    if (stage != stage_) {
      auto now = std::chrono::steady_clock::now();
      if (!stage_.empty()) {
        double seconds = std::chrono::duration<double>(now - started_).count();
        spdlog::debug("{}: {:.2f} s", stage_, seconds);
        times_.push_back({stage_, seconds});
      }
      started_ = now;
      stage_ = stage;
    }
    if (options_.progress) options_.progress(Progress{stage, done, total});
  }
  /// The stages finished so far (the one running is not among them).
  const std::vector<StageTime>& times() const { return times_; }

 private:
  const BuildOptions& options_;
  std::string stage_;
  std::chrono::steady_clock::time_point started_;
  std::vector<StageTime> times_;
};

// Offline, every input the cache lacks is named in one error, before
// anything else is checked or built.
Result<void> check_offline(const profile::Profile& p, const fetch::Cache& cache,
                           std::optional<int64_t> epoch, const std::string& mirror) {
  if (!cache.offline()) return Ok{};
  EF_ASSIGN(auto missing, missing_offline(p, cache, epoch, mirror));
  if (missing.empty()) return Ok{};
  std::string msg = std::to_string(missing.size()) + " input(s) are not in the cache " +
                    cache.dir().string() + " (--offline):";
  for (const auto& m : missing) msg += "\n  - " + m;
  return Error(Errc::offline, msg);
}

json entry_counts(const tree::TreeStats& s) {
  return {{"directories", s.directories}, {"files", s.files},         {"symlinks", s.symlinks},
          {"devices", s.devices},         {"fifos", s.fifos},         {"sockets", s.sockets},
          {"hardlinks", s.hardlinks},     {"fileBytes", s.file_bytes}};
}

// Where the formats came from, as messages about one of them start:
// "--format " or "profile.yaml:LINE:COL: spec.output.formats: ".
std::string formats_origin(const profile::Profile& p, const BuildOptions& o) {
  if (!o.formats.empty()) return "--format ";
  const auto& loc = p.output.formats_loc;
  return (loc.file.empty() ? p.file.string() : loc.str()) + ": spec.output.formats: ";
}

// The warning about extended attributes squashfs cannot store, naming the
// first few (all of them at debug level).
std::string dropped_xattrs_warning(const std::vector<squashfs::DroppedXattr>& dropped) {
  constexpr size_t kNamed = 3;
  auto describe = [](const squashfs::DroppedXattr& d) { return d.name + " on " + d.path; };
  std::string all;
  for (const auto& d : dropped) all += "\n  " + describe(d);
  spdlog::debug("extended attributes dropped:{}", all);
  std::string named;
  for (size_t i = 0; i < dropped.size() && i < kNamed; ++i)
    named += (i ? ", " : "") + describe(dropped[i]);
  if (dropped.size() > kNamed)
    named += " and " + std::to_string(dropped.size() - kNamed) + " more (-v lists them)";
  return std::to_string(dropped.size()) +
         " extended attribute(s) outside the user., trusted. and security. namespaces were "
         "dropped (squashfs cannot store them): " +
         named;
}

std::string epoch_source(const profile::Profile& p, std::optional<int64_t> sde) {
  if (sde) return "SOURCE_DATE_EPOCH";
  if (p.epoch) return "metadata.epoch";
  return "none";
}

}  // namespace

std::optional<int64_t> resolve_epoch(const profile::Profile& p, std::optional<int64_t> sde) {
  return sde ? sde : p.epoch;
}

Result<profile::Profile> validate_profile(const fs::path& file,
                                          const fetch::CacheOptions& cache_options) {
  EF_ASSIGN(auto p, profile::load_profile(file));
  fetch::Cache cache(cache_options);
  EF_TRY(check_offline(p, cache, p.epoch, ""));
  EF_TRY(cluster::check_packs(p, cache));
  if (!squashfs::compressor_supported(p.output.compression))
    return Error(Errc::invalid_profile, p.file.string() + ": spec.output.compression: '" +
                                            p.output.compression +
                                            "' is not supported by this libsquashfs");
  return p;
}

Result<BuildResult> build_image(const BuildOptions& o) {
  StageReporter report(o);
  report("loading profile");
  EF_ASSIGN(auto p, profile::load_profile(o.profile));
  auto epoch = resolve_epoch(p, o.source_date_epoch);
  fetch::Cache cache(o.cache);
  EF_TRY(check_offline(p, cache, epoch, o.artifact_mirror));
  EF_ASSIGN(Release release, release_of(p, epoch));
  // The agent's files and signing keys are checked first: a missing binary
  // or a wrong passphrase fails in a second, not after the base is built.
  EF_ASSIGN(auto keys, load_signing_keys(o.sign_keys, o.passphrase, "--sign-key"));
  EF_ASSIGN(auto agent, prepare_agent(p, o, keys));

  // Packs are checked and Kubernetes artifacts fetched before the base.
  report("resolving node layer");
  EF_ASSIGN(auto node_layer, cluster::make_node_layer(p, cache, o.artifact_mirror));

  report("resolving inputs");
  EF_ASSIGN(auto inputs, resolve_inputs(p, cache, epoch));
  InputHasher input_hasher(inputs);

  report("reading layers");
  tree::Tree tree(epoch.value_or(0));
  EntryIndexStats index_stats;
  const fs::path entry_indexes = o.block_cache ? cache.dir() / "trees" : fs::path();
  EF_ASSIGN(uint32_t base_layers,
            compose_tree(p, inputs, epoch.value_or(0), tree, entry_indexes, &index_stats));
  EF_TRY(cluster::apply_node_layer(tree, node_layer, epoch.value_or(0)));
  json agent_inputs = json::array();
  json agent_record = nullptr;
  if (agent) {
    report("adding edgeforge-agent");
    EF_ASSIGN(agent_record,
              apply_agent_layer(tree, p, std::move(*agent), default_health_units(node_layer),
                                epoch.value_or(0), agent_inputs));
  }
  if (epoch) tree.clamp_mtimes(*epoch);
  auto stats = tree.stats();

  squashfs::WriterOptions wo;
  wo.compression = p.output.compression;
  wo.level = p.output.level;
  wo.block_size = p.output.block_size;
  wo.workers = o.workers;
  wo.mod_time = epoch.value_or(0);
  std::string stem = p.name + "-" + p.version;
  // Every output is written into a staging directory inside the output
  // directory and moved into place only when all of them were written: a
  // failed build leaves nothing behind and keeps the previous build's files.
  EF_ASSIGN(auto stage, StagingDir::create(o.output_dir, stem));
  const std::string image_name = stem + ".squashfs", manifest_name = stem + ".manifest.json";
  const std::filesystem::path staged_image = stage.staged(image_name);
  BuildResult result;
  if (o.block_cache) result.entry_index = index_stats;
  result.image = o.output_dir / image_name;
  result.manifest = o.output_dir / manifest_name;
  SbomCollector collector(tree, base_layers);
  BootFileHasher boot_files(tree);
  wo.data_observer = [&](const tree::Inode& inode, std::string_view data) {
    collector.observe(inode, data);
    boot_files.observe(inode, data);
  };
  if (o.block_cache)
    wo.block_cache = std::make_shared<squashfs::BlockCache>(cache.dir() / "blocks");
  report("writing image", 0, stats.file_bytes);
  auto progress = [&](uint64_t done) { report("writing image", done, stats.file_bytes); };
  EF_ASSIGN(auto image_stats, squashfs::write_image(tree, staged_image, wo, progress));
  if (wo.block_cache) {
    result.block_cache = wo.block_cache->stats();
    if (result.block_cache->pack_blocks) {  // a new pack: keep the cache within its bound
      report("pruning the block cache");
      auto pruned = wo.block_cache->prune(o.block_cache_max_bytes);
      if (pruned)
        result.block_cache_prune = *pruned;
      else  // the image is written; a cache that cannot be listed is not a failed build
        spdlog::warn("{}", pruned.error().message());
    }
  }

  report("waiting for input digests");
  EF_TRY(input_hasher.finish(inputs, cache));
  collector.finish();
  json packages = nullptr;  // no (usable) dpkg status file
  if (const auto* debs = collector.packages()) {
    packages = json::array();
    for (const auto& d : *debs)
      packages.push_back(
          {{"name", d.name}, {"version", d.version}, {"architecture", d.architecture}});
  }
  release.image_sha256 = result.image_sha256 = image_stats.sha256;
  release.image_size = result.image_size = image_stats.bytes;
  release.boot = boot_files.boot_files();
  json input_records = json::array();
  for (const auto& in : inputs) input_records.push_back(in.record);
  for (auto& r : agent_inputs) input_records.push_back(std::move(r));
  json sources = json::array();
  for (const auto& s : p.sources)
    sources.push_back(s.lexically_relative(p.file.parent_path()).string());
  json warnings = json::array();
  if (!image_stats.dropped_xattrs.empty())
    warnings.push_back(dropped_xattrs_warning(image_stats.dropped_xattrs));
  result.manifest_json = {
      {"manifestVersion", 1},
      {"tool", {{"name", "edgeforge"}, {"version", EF_VERSION}}},
      {"profile",
       {{"name", release.name},
        {"version", release.version.str()},
        {"digest", p.digest},
        {"sources", sources}}},
      {"bundle", {{"compatible", release.compatible}, {"minVersion", release.min_version.str()}}},
      {"epoch", epoch ? json(*epoch) : json(nullptr)},
      {"epochSource", epoch_source(p, o.source_date_epoch)},
      {"inputs", input_records},
      {"image",
       {{"file", image_name},
        {"sha256", release.image_sha256},
        {"size", release.image_size},
        {"compression", wo.compression},
        {"level", wo.level ? json(*wo.level) : json(nullptr)},
        {"blockSize", wo.block_size},
        {"inodes", image_stats.inodes}}},
      {"entries", entry_counts(stats)},
      {"packages", packages},
      {"warnings", warnings},
  };
  for (const auto& d : image_stats.dropped_xattrs)  // all of them; the warning names a few
    result.manifest_json["droppedXattrs"].push_back({{"name", d.name}, {"path", d.path}});
  if (!node_layer.empty()) result.manifest_json["node"] = node_layer.record;
  if (!agent_record.is_null()) result.manifest_json["agent"] = agent_record;
  // The SBOM describes the image; the provenance names every output.
  report("writing SBOM and provenance");
  const std::string sbom_name = stem + sbom::file_suffix(o.sbom_format),
                    provenance_name = stem + ".provenance.json";
  std::string sbom_text =
      json_text(sbom::document(sbom_facts(result.manifest_json, collector), o.sbom_format), 1);
  EF_TRY(write_file_atomic(stage.staged(sbom_name), sbom_text));
  release.sbom_sha256 = sha256_hex(sbom_text);
  std::vector<std::string> formats = o.formats.empty() ? p.output.formats : o.formats;
  EF_ASSIGN(auto disk, write_disk_outputs(p, release, staged_image, formats, formats_origin(p, o),
                                          [&](const std::string& s) { report(s); }));
  std::vector<std::string> names = {image_name};
  for (const auto& f : disk.files) {
    names.push_back(f.filename().string());
    result.outputs.push_back(o.output_dir / f.filename());
  }
  if (!disk.record.is_null()) result.manifest_json["disk"] = disk.record;
  if (!disk.iso_record.is_null()) result.manifest_json["iso"] = disk.iso_record;
  if (!disk.kernel_image_record.is_null())
    result.manifest_json["kernelImage"] = disk.kernel_image_record;
  // The provenance names every output.
  std::vector<sbom::Digested> subjects = {{image_name, "", release.image_sha256},
                                          {sbom_name, "", release.sbom_sha256}};
  for (const auto& f : disk.files) {
    EF_ASSIGN(auto digest, sha256_file(f));
    subjects.push_back({f.filename().string(), "", digest});
  }
  std::string provenance_text = json_text(provenance(result.manifest_json, subjects), 1);
  EF_TRY(write_file_atomic(stage.staged(provenance_name), provenance_text));
  result.manifest_json["sbom"] = {
      {"file", sbom_name},
      {"format", o.sbom_format == sbom::Format::spdx ? "spdx-2.3" : "cyclonedx-1.5"},
      {"sha256", release.sbom_sha256}};
  result.manifest_json["provenance"] = {{"file", provenance_name},
                                        {"sha256", sha256_hex(provenance_text)}};
  names.push_back(sbom_name);
  names.push_back(provenance_name);
  result.sbom = o.output_dir / sbom_name;
  result.provenance = o.output_dir / provenance_name;
  EF_TRY(write_file_atomic(stage.staged(manifest_name), json_text(result.manifest_json, 2)));
  if (!o.sign_keys.empty()) {
    report("signing the bundle");
    const std::string bundle_name = stem + ".efb";
    std::vector<signing::AttachmentFile> attachments = {
        {"sbom", sbom::media_type(o.sbom_format), stage.staged(sbom_name)},
        {"provenance", kProvenanceMediaType, stage.staged(provenance_name)}};
    // spec.secureBoot: a device boots the slot only through this signed image.
    if (!disk.kernel_image_record.is_null())
      attachments.push_back({"kernel-image", kKernelImageMediaType,
                             stage.staged(disk.kernel_image_record["file"].get<std::string>())});
    auto made = write_bundle(release, staged_image, keys, stage.staged(bundle_name), attachments);
    if (!made) return std::move(made).error().with_context("signing the bundle");
    names.push_back(bundle_name);
    result.bundle = BundleResult{o.output_dir / bundle_name, std::move(*made)};
  }
  names.push_back(manifest_name);  // last: it describes the others
  EF_TRY(stage.commit(names));
  report("done");
  result.stages = report.times();
  return result;
}

}  // namespace ef::build
