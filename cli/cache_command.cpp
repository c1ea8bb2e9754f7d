// edgeforge cache prune: bound the block cache by hand.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "builder/squashfs/block_cache.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"

namespace ef::cli {
namespace {

struct CacheCommandArgs {
  std::string dir;
  std::string max_size = "4G";
  OutputStyle style;
};

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

int run_prune(const CacheCommandArgs& a) {
  auto max = squashfs::parse_size(a.max_size);
  if (!max) return fail(std::move(max).error().with_context("--max-size"), a.style.json);
  std::filesystem::path dir =
      a.dir.empty() ? fetch::default_cache_dir() : std::filesystem::path(a.dir);
  squashfs::BlockCache cache(dir / "blocks");
  auto r = cache.prune(*max);
  if (!r) return fail(r.error(), a.style.json);
  if (a.style.json) {
    std::cout << nlohmann::json({{"ok", true},
                                 {"directory", cache.dir().string()},
                                 {"packs", r->packs},
                                 {"bytes", r->bytes},
                                 {"removed", r->removed},
                                 {"removedBytes", r->removed_bytes}})
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << cache.dir().string() << ": removed " << r->removed << " pack(s) ("
              << mib(r->removed_bytes) << "); " << r->packs - std::min(r->packs, r->removed)
              << " pack(s) (" << mib(r->bytes - std::min(r->bytes, r->removed_bytes))
              << ") are left\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_cache_command(CLI::App& app) {
  auto a = std::make_shared<CacheCommandArgs>();
  auto* cmd = app.add_subcommand("cache", "Manage the block cache of compressed image blocks");
  cmd->require_subcommand(1);
  auto* prune = cmd->add_subcommand(
      "prune", "Remove the least recently used blocks until the cache fits --max-size");
  prune->add_option("--cache-dir", a->dir, "Cache directory (default: ~/.cache/edgeforge)");
  prune->add_option("--max-size", a->max_size,
                    "What the block cache may keep, e.g. 10G, 500M; 0 empties it (default: 4G)");
  add_output_style(prune, a->style);
  prune->footer(
      "Only CACHE_DIR/blocks is pruned: downloads and bases are kept (they are named by\n"
      "their digests and never grow by themselves). Builds prune the block cache to\n"
      "their --cache-max-size after they added to it; docs/cache.md.");
  return {cmd, [a] { return run_prune(*a); }};
}

}  // namespace ef::cli
