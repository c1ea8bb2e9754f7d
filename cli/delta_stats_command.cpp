// edgeforge delta-stats: what a device on OLD downloads for NEW.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/bundle_inspect.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "signing/bundle.hpp"
#include "signing/delta_plan.hpp"

namespace ef::cli {
namespace {

struct DeltaStatsArgs {
  std::string old_path, new_path;
  OutputStyle style;
};

// A payload cut into chunks, its size and where its verity tree starts.
struct Cut {
  std::vector<signing::Chunk> chunks;
  uint64_t payload_size = 0, image_size = 0;
};

// The chunks of a bundle's payload or of an image's (as a bundle would carry
// it, which may cut an image that is not squashfs as gear-cdc-1: then
// `params` says so), cut with `params`.
Result<Cut> chunks_of(const std::string& path, signing::ChunkParams& params) {
  if (!is_bundle_file(path)) {
    EF_ASSIGN(auto payload, signing::describe_payload(path, params));
    params = payload.chunking;
    return Cut{std::move(payload.chunks), payload.payload.size, payload.image.size};
  }
  EF_ASSIGN(auto bundle, signing::Bundle::open(path));
  EF_ASSIGN(auto m, bundle.manifest());
  EF_ASSIGN(auto chunks, signing::cut_payload(bundle, m, params));
  return Cut{std::move(chunks), m.payload.size, m.image.size};
}

// NEW's parameters: its bundle's, else the defaults.
Result<signing::ChunkParams> params_of(const std::string& path) {
  if (!is_bundle_file(path)) return signing::ChunkParams{};
  EF_ASSIGN(auto bundle, signing::Bundle::open(path));
  EF_ASSIGN(auto m, bundle.manifest());
  return m.chunks ? m.chunks->params : signing::ChunkParams{};
}

Result<signing::DeltaPlan> plan(const DeltaStatsArgs& a) {
  auto params = params_of(a.new_path);
  if (!params) return std::move(params).error().with_context(a.new_path);
  auto target = chunks_of(a.new_path, *params);
  if (!target) return std::move(target).error().with_context(a.new_path);
  auto seed = chunks_of(a.old_path, *params);
  if (!seed) return std::move(seed).error().with_context(a.old_path);
  // As the agent plans: the new verity tree is computed, not fetched.
  return signing::plan_delta(seed->chunks, target->chunks, target->payload_size,
                             signing::encode_chunk_index(target->chunks).size(),
                             target->image_size);
}

int run_delta_stats(const DeltaStatsArgs& a) {
  auto p = plan(a);
  if (!p) return fail(p.error(), a.style.json);
  if (a.style.json) {
    std::cout << nlohmann::json({{"old", a.old_path},
                                 {"new", a.new_path},
                                 {"fullBytes", p->full_bytes},
                                 {"downloadBytes", p->full ? p->full_bytes : p->download_bytes},
                                 {"missingBytes", p->download_bytes},
                                 {"computedChunks", p->computed_chunks},
                                 {"computedBytes", p->computed_bytes},
                                 {"chunks", p->chunks},
                                 {"reusedChunks", p->reused_chunks},
                                 {"downloadChunks", p->download_chunks},
                                 {"full", p->full},
                                 {"reason", p->reason}})
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << "a device on " << a.old_path << " fetches for " << a.new_path << ": " << p->reason
              << "; " << p->reused_chunks << " chunks reused\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_delta_stats_command(CLI::App& app) {
  auto a = std::make_shared<DeltaStatsArgs>();
  auto* cmd = app.add_subcommand(
      "delta-stats", "Report what a device on OLD downloads to upgrade to NEW (delta updates)");
  cmd->add_option("old", a->old_path, "What the device runs: a bundle (.efb) or image (.squashfs)")
      ->required();
  cmd->add_option("new", a->new_path, "The release: a bundle (.efb) or image (.squashfs)")
      ->required();
  add_output_style(cmd, a->style,
                   "Print {fullBytes, downloadBytes, chunks, reusedChunks, ...} on stdout");
  cmd->footer(
      "The same planner the agent follows: NEW's chunks that OLD does not have are fetched,\n"
      "each distinct chunk once (sizes before the store's compression); when that costs as\n"
      "much as the whole payload the device fetches the full payload (\"full\": true).");
  return {cmd, [a] { return run_delta_stats(*a); }};
}

}  // namespace ef::cli
