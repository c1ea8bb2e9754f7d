#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "builder/tree/inputs.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::tree {
namespace {

using nlohmann::json;
using test::TarEntry;

class OciInputTest : public test::TempDirTest {
 protected:
  // Two layers: the second deletes /etc/old and adds /etc/new.
  std::vector<std::string> make_layers() {
    test::write_tar(tmp / "l1.tar",
                    {TarEntry::file("etc/old", "old"), TarEntry::file("bin/sh", "sh", 0755)},
                    test::TarCompression::gzip);
    test::write_tar(tmp / "l2.tar",
                    {TarEntry::file("etc/.wh.old", ""), TarEntry::file("etc/new", "new")});
    return {*read_file(tmp / "l1.tar"), *read_file(tmp / "l2.tar")};
  }

  std::string add_blob(const std::filesystem::path& layout, const std::string& bytes) {
    std::string digest = sha256_hex(bytes);
    tmp.write((layout / "blobs/sha256" / digest).lexically_relative(tmp.path()).string(), bytes);
    return "sha256:" + digest;
  }

  void check(const Tree& t) {
    EXPECT_EQ(t.find("etc/old"), nullptr);
    ASSERT_NE(t.find("etc/new"), nullptr);
    EXPECT_EQ(t.find("bin/sh")->inode->mode, 0755u);
    EXPECT_EQ(t.find("etc/.wh.old"), nullptr);
  }
};

TEST_F(OciInputTest, ImageLayoutDirectory) {
  auto layers = make_layers();
  auto layout = tmp / "img";
  json manifest = {{"schemaVersion", 2}, {"layers", json::array()}};
  for (const auto& l : layers)
    manifest["layers"].push_back(
        {{"mediaType", "application/vnd.oci.image.layer.v1.tar"}, {"digest", add_blob(layout, l)}});
  std::string m = manifest.dump();
  json index = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", add_blob(layout, m)},
                   {"size", m.size()},
                   {"annotations", {{"org.opencontainers.image.ref.name", "latest"}}}}}}};
  tmp.write("img/index.json", index.dump());
  tmp.write("img/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  Tree t;
  ASSERT_TRUE(apply_oci(t, layout, "latest", "base (oci img)"));
  check(t);
  Tree t2;
  auto wrong = apply_oci(t2, layout, "v2", "base (oci img)");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("no image named 'v2'"), std::string::npos);
}

TEST_F(OciInputTest, DockerSaveArchive) {
  auto layers = make_layers();
  json manifest = json::array({{{"Config", "cfg.json"},
                                {"RepoTags", {"edge/app:1.0"}},
                                {"Layers", {"aaa/layer.tar", "bbb/layer.tar"}}}});
  test::write_tar(
      tmp / "save.tar",
      {TarEntry::file("aaa/layer.tar", layers[0]), TarEntry::file("bbb/layer.tar", layers[1]),
       TarEntry::file("cfg.json", "{}"), TarEntry::file("manifest.json", manifest.dump())});
  Tree t;
  ASSERT_TRUE(apply_oci(t, tmp / "save.tar", "1.0", "base (docker-save save.tar)"));
  check(t);
}

TEST_F(OciInputTest, MembersOfTheWrongTypeAreClearErrors) {
  // Found by fuzz_oci: index.json holding a number aborted the build
  // (nlohmann's value() throws on a non-object).
  struct Case {
    std::string index, ref, want;
  };
  tmp.write("img/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  for (const auto& c :
       std::vector<Case>{{"15012743001", "", "index.json lists no manifests"},
                         {R"({"manifests": {"a": 1}})", "", "index.json lists no manifests"},
                         {R"({"manifests": [5]})", "", "unsupported or missing digest"},
                         {R"({"manifests": [{"digest": 5}]})", "", "unsupported or missing digest"},
                         {R"({"manifests": [7, {"annotations": 1, "platform": "x"}]})", "v1",
                          "no image named 'v1'"}}) {
    tmp.write("img/index.json", c.index);
    Tree t;
    auto r = apply_oci(t, tmp / "img", c.ref, "base");
    ASSERT_FALSE(r) << c.index;
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << r.error().message();
  }
}

TEST_F(OciInputTest, NeitherLayoutNorArchive) {
  test::write_tar(tmp / "plain.tar", {TarEntry::file("a", "b")});
  Tree t;
  auto r = apply_oci(t, tmp / "plain.tar", "", "base");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("neither an OCI image layout"), std::string::npos);
}

}  // namespace
}  // namespace ef::tree
