#include "builder/fetch/mmdebstrap.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "util/sha256.hpp"
#include "util/subprocess.hpp"

namespace ef::fetch {
namespace {

// Bump when the canonical text or the command line changes meaning, so old
// cache entries are not reused for a different result.
constexpr const char* kRecipeFormat = "mmdebstrap-recipe-v1";

/// Packages in a stable order: --include is a set, so order and duplicates
/// must not change the key.
std::vector<std::string> canonical_packages(const std::vector<std::string>& packages) {
  std::vector<std::string> out = packages;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

/// Escapes the line separator so no value can forge another field.
std::string escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string canonical_text(const profile::MmdebstrapRecipe& recipe, std::optional<int64_t> epoch) {
  std::string text = std::string(kRecipeFormat) + "\n";
  auto field = [&text](std::string_view name, std::string_view value) {
    text.append(name).append("=").append(escape(value)).append("\n");
  };
  field("suite", recipe.suite);
  field("variant", recipe.variant);
  field("architecture", recipe.architecture);
  // Component order is kept: it is written into the image's apt sources.
  for (const auto& component : recipe.components) field("component", component);
  for (const auto& package : canonical_packages(recipe.packages)) field("package", package);
  // An empty mirror means the host's apt sources, which the key cannot see.
  field("mirror", recipe.mirror);
  field("epoch", epoch ? std::to_string(*epoch) : "none");
  return text;
}

/// "suite bookworm, packages a, b" for messages.
std::string describe(const profile::MmdebstrapRecipe& recipe) {
  std::string packages = join(canonical_packages(recipe.packages), ", ");
  return "suite " + recipe.suite + " (" + recipe.variant + ", " + recipe.architecture +
         "), packages " + (packages.empty() ? "none" : packages);
}

Result<void> run_mmdebstrap(const profile::MmdebstrapRecipe& recipe, std::optional<int64_t> epoch,
                            const std::filesystem::path& output) {
  std::vector<std::string> argv = mmdebstrap_command(recipe, output);
  ProcessOptions options;
  options.apt_package = "mmdebstrap";
  options.tee_stderr = true;  // it runs for minutes; let the user see progress
  if (epoch) {
    options.env.emplace_back("SOURCE_DATE_EPOCH", std::to_string(*epoch));
  } else {
    // The key says "no epoch"; an inherited one would make it lie.
    options.unset_env.emplace_back("SOURCE_DATE_EPOCH");
  }
  spdlog::info("running {}", format_command(argv));
  EF_ASSIGN(ProcessResult result, run_process(argv, options));
  if (!result.success()) return process_failure(argv, result);
  return Ok{};
}

}  // namespace

std::string mmdebstrap_cache_key(const profile::MmdebstrapRecipe& recipe,
                                 std::optional<int64_t> epoch) {
  return sha256_hex(canonical_text(recipe, epoch));
}

std::vector<std::string> mmdebstrap_command(const profile::MmdebstrapRecipe& recipe,
                                            const std::filesystem::path& output) {
  std::vector<std::string> argv = {"mmdebstrap", "--variant=" + recipe.variant,
                                   "--architectures=" + recipe.architecture};
  if (!recipe.components.empty()) argv.push_back("--components=" + join(recipe.components, ","));
  auto packages = canonical_packages(recipe.packages);
  if (!packages.empty()) argv.push_back("--include=" + join(packages, ","));
  argv.push_back(recipe.suite);
  argv.push_back(output.string());
  // Without a mirror, mmdebstrap uses the host's apt sources.
  if (!recipe.mirror.empty()) argv.push_back(recipe.mirror);
  return argv;
}

Result<std::filesystem::path> materialize_mmdebstrap(Cache& cache,
                                                     const profile::MmdebstrapRecipe& recipe,
                                                     std::optional<int64_t> epoch) {
  if (recipe.suite.empty()) return Error(Errc::invalid_profile, "mmdebstrap recipe has no suite");
  std::string key = mmdebstrap_cache_key(recipe, epoch);
  bool made = false;
  auto produce = [&](const std::filesystem::path& output) -> Result<void> {
    made = true;
    return run_mmdebstrap(recipe, epoch, output);
  };
  auto path = cache.get_or_create(key, produce);
  if (path && made) {
    // Hashing the tarball is part of making it: every build on this base,
    // the first included, finds its digest in the memo instead of hashing
    // ~650 MB while it writes the image. Best effort: a miss costs a rehash.
    auto identity = file_identity(*path);
    auto digest = sha256_file(*path);
    if (identity && digest) cache.digest_memo().remember(*path, *identity, *digest);
  }
  if (path) return path;
  if (path.error().code() == Errc::offline) {
    return Error(Errc::offline, "mmdebstrap base not in cache (offline): " + describe(recipe) +
                                    " (cache key " + key + ")");
  }
  return std::move(path).error().with_context("mmdebstrap base for " + describe(recipe));
}

}  // namespace ef::fetch
