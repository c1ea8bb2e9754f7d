#!/usr/bin/env bash
# Installs everything edgeforge needs to build, test and benchmark on Debian 12.
# Run as root (or with sudo). Safe to run again.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates ccache
  # clang with libFuzzer and the sanitizer runtimes: the sanitizer tree and
  # the fuzz targets (scripts/fuzz.sh)
  clang libclang-rt-14-dev
  # libraries
  libarchive-dev libsquashfs-dev libzstd-dev libxxhash-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libssl-dev nlohmann-json3-dev libcurl4-openssl-dev libgtest-dev libkainjow-mustache-dev
  # base root filesystems
  mmdebstrap
  # boot chain, disk images and ISO (iso/), QEMU boot tests and run-vm
  grub-efi-amd64-bin grub-pc-bin grub-common libisofs-dev libisoburn-dev xorriso mtools dosfstools
  e2fsprogs libext2fs-dev fdisk gdisk cpio file qemu-system-x86 ovmf qemu-utils libguestfs-tools libguestfs-dev
  libfdisk-dev uuid-dev
  # verified boot (spec.secureBoot): the systemd-boot and UKI stub binaries the
  # builder signs; sbsigntool, osslsigncode and efitools as the tests' outside
  # oracles for signatures and EFI signature lists; swtpm as the TPM 2.0 the
  # boot tests and run-vm --tpm give the guest
  systemd-boot-efi sbsigntool osslsigncode efitools swtpm
  # outside oracles and benchmark peers
  squashfs-tools squashfs-tools-ng zstd cryptsetup-bin time softhsm2 opensc libengine-pkcs11-openssl
  jq bc curl python3
  # servers the delta tests start on 127.0.0.1
  docker-registry
  # the fleet service: its storage engines, and the PostgreSQL its tests start;
  # crypt(3) for the dashboard's password hashes
  libsqlite3-dev libpq-dev libmicrohttpd-dev postgresql-15 libcrypt-dev
  # the dashboard's browser test: headless Chromium (driven by playwright-core, below)
  chromium
  # provision-script test oracle
  shellcheck
  # OCI image archive oracle (packs' images/)
  skopeo
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -q
as_root apt-get install -y -q --no-install-recommends "${packages[@]}"

# kubectl, which the Kubernetes reboot-lock tests run: Debian's
# kubernetes-client, unless a kubectl is installed already (another
# package's /usr/bin/kubectl would conflict with it).
if ! command -v kubectl >/dev/null 2>&1; then
  as_root apt-get install -y -q --no-install-recommends kubernetes-client
fi

# Node.js and npm for the dashboard's browser test: Debian's nodejs and npm,
# unless a Node.js is installed already (one from elsewhere brings its own
# npm, and Debian's npm package would conflict with it).
if ! command -v node >/dev/null 2>&1; then
  as_root apt-get install -y -q --no-install-recommends nodejs
fi
if ! command -v npm >/dev/null 2>&1; then
  as_root apt-get install -y -q --no-install-recommends npm
fi
# The npm packages the tests pin in their package-lock.json files:
# playwright-core for the dashboard's browser test (it downloads no browser;
# the test runs Debian's /usr/bin/chromium) and the SBOM oracles (the
# CycloneDX 1.5 schema, ajv, spdx-expression-parse, packageurl-js). Each is
# skipped when the installed copy already matches its lock file.
root=$(cd "$(dirname "$0")/.." && pwd)
for npm_dir in "$root/tests/fleet/browser" "$root/tests/sbom/schema"; do
  if ! cmp -s "$npm_dir/package-lock.json" "$npm_dir/node_modules/.package-lock.json.installed" 2>/dev/null; then
    npm ci --prefix "$npm_dir" --no-audit --no-fund
    cp "$npm_dir/package-lock.json" "$npm_dir/node_modules/.package-lock.json.installed"
  fi
done
