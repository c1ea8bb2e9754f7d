// `edgeforge keygen`, `bundle`, `verify`, and `inspect BUNDLE`: the command
// line over signing/ and builder/build/bundle_output.hpp.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "signing/keys.hpp"
#include "util/error.hpp"

namespace ef::cli {

/// Registers the signing commands on `app`; run() executes the one parsed.
class SigningCommands {
 public:
  explicit SigningCommands(CLI::App& app);
  /// The exit status of the parsed signing command, or nullopt when the
  /// command line named another command.
  std::optional<int> run() const;

 private:
  int run_keygen() const;
  int run_bundle() const;
  int run_verify() const;

  CLI::App* keygen_ = nullptr;
  CLI::App* bundle_ = nullptr;
  CLI::App* verify_ = nullptr;
  std::string out_dir_, algorithm_ = "ed25519";
  std::string image_, output_, build_manifest_, product_, compatible_, version_, min_version_;
  std::vector<std::string> keys_;
  signing::Passphrase passphrase_;
  std::string bundle_path_, keyring_, installed_version_;
  bool allow_downgrade_ = false, json_ = false;
};

/// Adds the passphrase options (file or environment, never a value) to `cmd`.
void add_passphrase_options(CLI::App* cmd, signing::Passphrase& passphrase);

/// True when `path` starts with the bundle magic.
bool is_bundle_file(const std::string& path);

/// `edgeforge inspect BUNDLE [--keyring DIR]`: header, manifest and each
/// signature with the keyring key that matches it (and whether it verifies).
Result<void> inspect_bundle(const std::string& path, const std::string& keyring, bool json,
                            std::ostream& out);

}  // namespace ef::cli
