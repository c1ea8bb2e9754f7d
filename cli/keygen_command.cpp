// edgeforge keygen: a signing key pair for bundles.
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "signing/keys.hpp"

namespace ef::cli {
namespace {

struct KeygenArgs {
  std::string out_dir;
  std::string algorithm = "ed25519";
  signing::Passphrase passphrase;
  OutputStyle style;
};

signing::Algorithm algorithm_named(const std::string& name) {
  if (name == "ecdsa-p256" || name == "ecdsa-p256-sha256")
    return signing::Algorithm::ecdsa_p256_sha256;
  if (name == "rsa3072" || name == "rsa3072-pss-sha256")
    return signing::Algorithm::rsa3072_pss_sha256;
  return signing::Algorithm::ed25519;
}

int run_keygen(const KeygenArgs& a) {
  auto id = signing::generate_key_files(a.out_dir, algorithm_named(a.algorithm), a.passphrase);
  if (!id) return fail(id.error(), a.style.json);
  auto key = std::filesystem::path(a.out_dir) / "signing.key";
  auto pub = std::filesystem::path(a.out_dir) / "signing.pub";
  if (a.style.json) {
    std::cout << nlohmann::json({{"ok", true},
                                 {"keyId", *id},
                                 {"algorithm", a.algorithm},
                                 {"privateKey", key.string()},
                                 {"publicKey", pub.string()}})
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << *id << "\n";
    std::cerr << "wrote " << key.string() << " and " << pub.string() << "\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_keygen_command(CLI::App& app) {
  auto a = std::make_shared<KeygenArgs>();
  auto* cmd = app.add_subcommand("keygen", "Make a signing key pair for bundles");
  cmd->add_option("-o,--output,--out", a->out_dir,
                  "Directory for signing.key (0600) and signing.pub")
      ->required();
  cmd->add_option("--algorithm", a->algorithm, "ed25519 (default), ecdsa-p256 or rsa3072")
      ->check(CLI::IsMember(
          {"ed25519", "ecdsa-p256", "ecdsa-p256-sha256", "rsa3072", "rsa3072-pss-sha256"}));
  add_passphrase_options(cmd, a->passphrase);
  add_output_style(cmd, a->style, "Print the key ID and the files as JSON on stdout");
  cmd->footer(
      "Prints the key ID: the sha256 of the public key's SubjectPublicKeyInfo (DER). Copy\n"
      "signing.pub into the devices' keyring directory; keep signing.key secret (or use an\n"
      "HSM: --sign-key pkcs11:... wherever a key is taken).");
  return {cmd, [a] { return run_keygen(*a); }};
}

}  // namespace ef::cli
