// Builds images with a node layer (spec.kubernetes / packs / site) from
// generated inputs; distribution artifacts are small generated files served
// by a local HTTP server and reached through the artifact mirror.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "builder/build/build.hpp"
#include "image/squashfs_reader.hpp"
#include "tests/support/command.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/http_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::test {

/// The upstream path of an artifact on the mirror: https://host/path -> /host/path.
inline std::string mirror_path(const std::string& upstream) {
  return "/" + upstream.substr(upstream.find("://") + 3);
}

class ClusterTest : public TempDirTest {
 protected:
  ClusterTest() : server("unused") {}

  std::string mirror() const { return server.url(""); }

  /// Serves `body` where the mirror maps `upstream`; returns its sha256.
  std::string serve(const std::string& upstream, const std::string& body) {
    server.route(mirror_path(upstream), body);
    return sha256_hex(body);
  }

  /// A root filesystem tarball; `kubeadm_deps` adds containerd, runc, CNI.
  void write_base(bool kubeadm_deps = false) {
    std::vector<TarEntry> e = {TarEntry::dir("etc"),
                               TarEntry::file("etc/os-release", "ID=debian\n"),
                               TarEntry::file("usr/bin/sh", "#!sh", 0755)};
    if (kubeadm_deps) {
      e.push_back(TarEntry::file("usr/bin/containerd", "containerd", 0755));
      e.push_back(TarEntry::file("usr/sbin/runc", "runc", 0755));
      e.push_back(TarEntry::file("usr/lib/cni/bridge", "bridge", 0755));
    }
    write_tar(tmp / "rootfs.tar", e);
  }

  /// Writes profile.yaml with the standard header, base, the agent disabled
  /// and `spec` lines.
  void write_profile(const std::string& spec, const std::string& file = "profile.yaml") {
    tmp.write(
        file,
        "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: node\n"
        "  version: 1.0.0\n  epoch: 1700000000\nspec:\n  base:\n    tarball: {path: rootfs.tar}\n"
        // These tests are about the node layer; the agent layer has its own.
        "  agent: {enabled: false}\n" +
            spec);
  }

  build::BuildOptions options(bool offline = false) {
    build::BuildOptions o;
    o.profile = tmp / "profile.yaml";
    o.output_dir = tmp / "out";
    o.cache.dir = tmp / "cache";
    o.cache.offline = offline;
    o.cache.retries = 0;
    o.workers = 1;
    o.artifact_mirror = mirror();
    o.agent_binary = EF_AGENT_BIN;  // for profiles that keep the agent
    return o;
  }

  /// Builds and opens the image; fails the test on a build error.
  void build_and_read(bool offline = false) {
    auto r = build::build_image(options(offline));
    ASSERT_TRUE(r) << r.error().message();
    result = *r;
    auto reader = image::ImageReader::open(r->image);
    ASSERT_TRUE(reader) << reader.error().message();
    image = std::move(*reader);
    auto list = image->list();
    ASSERT_TRUE(list) << list.error().message();
    entries.clear();
    for (auto& e : *list) entries[e.path] = e;
  }

  const image::ImageEntry& at(const std::string& path) {
    static image::ImageEntry none;
    auto it = entries.find(path);
    EXPECT_NE(it, entries.end()) << path << " is not in the image";
    return it == entries.end() ? none : it->second;
  }

  bool has(const std::string& path) const { return entries.count(path) != 0; }

  std::string content(const std::string& path) {
    std::string out;
    auto r = image->read_file(path, [&](const void* p, size_t n) -> Result<void> {
      out.append(static_cast<const char*>(p), n);
      return Ok{};
    });
    EXPECT_TRUE(r) << path << ": " << (r ? "" : r.error().message());
    return out;
  }

  HttpServer server;
  build::BuildResult result;
  std::unique_ptr<image::ImageReader> image;
  std::map<std::string, image::ImageEntry> entries;
};

}  // namespace ef::test
