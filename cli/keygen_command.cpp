// edgeforge keygen: a signing key pair for bundles, or Secure Boot keys (--secure-boot).
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "signing/authenticode.hpp"
#include "signing/keys.hpp"

namespace ef::cli {
namespace {

struct KeygenArgs {
  std::string out_dir;
  std::string algorithm = "ed25519";
  signing::Passphrase passphrase;
  bool secure_boot = false;
  std::string common_name = "edgeforge";
  OutputStyle style;
};

signing::Algorithm algorithm_named(const std::string& name) {
  if (name == "ecdsa-p256" || name == "ecdsa-p256-sha256")
    return signing::Algorithm::ecdsa_p256_sha256;
  if (name == "rsa3072" || name == "rsa3072-pss-sha256")
    return signing::Algorithm::rsa3072_pss_sha256;
  return signing::Algorithm::ed25519;
}

int run_secure_boot_keygen(const KeygenArgs& a) {
  if (auto r = signing::generate_secure_boot_keys(a.out_dir, a.common_name); !r)
    return fail(r.error(), a.style.json);
  std::filesystem::path dir = a.out_dir;
  if (a.style.json) {
    nlohmann::json files;
    for (const char* k : {"PK", "KEK", "db"})
      files[k] = {{"key", (dir / (std::string(k) + ".key")).string()},
                  {"certificate", (dir / (std::string(k) + ".crt")).string()},
                  {"der", (dir / (std::string(k) + ".cer")).string()},
                  {"signatureList", (dir / (std::string(k) + ".esl")).string()}};
    std::cout << nlohmann::json({{"ok", true}, {"keys", files}}).dump(2) << "\n";
  } else if (!a.style.quiet) {
    std::cerr << "wrote PK, KEK and db keys (.key), certificates (.crt PEM, .cer DER) and "
                 "signature lists (.esl) to "
              << dir.string() << "\n"
              << "profile: secureBoot: {key: " << (dir / "db.key").string()
              << ", certificate: " << (dir / "db.crt").string() << "}\n";
  }
  return 0;
}

int run_keygen(const KeygenArgs& a) {
  if (a.secure_boot) return run_secure_boot_keygen(a);
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
  cmd->add_flag("--secure-boot", a->secure_boot,
                "Make UEFI Secure Boot keys instead: PK, KEK and db (RSA 2048) with "
                "certificates and EFI signature lists for enrolling in the firmware");
  cmd->add_option("--common-name", a->common_name,
                  "With --secure-boot: the certificates' CN prefix (default: edgeforge)");
  add_output_style(cmd, a->style, "Print the key ID and the files as JSON on stdout");
  cmd->footer(
      "Prints the key ID: the sha256 of the public key's SubjectPublicKeyInfo (DER). Copy\n"
      "signing.pub into the devices' keyring directory; keep signing.key secret (or use an\n"
      "HSM: --sign-key pkcs11:... wherever a key is taken).\n"
      "--secure-boot writes PK, KEK and db for the firmware (docs/verified-boot.md); the\n"
      "profile's spec.secureBoot signs with db.key and db.crt.");
  return {cmd, [a] { return run_keygen(*a); }};
}

}  // namespace ef::cli
