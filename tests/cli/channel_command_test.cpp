// edgeforge channel from the operator's side: a channel directory next to a
// bundle and its published head (or a repository of Debian's docker-registry
// next to the published head), each change a new signed version, and `show`
// explaining it with the device's own checks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_fixture.hpp"
#include "tests/support/registry.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

using nlohmann::json;

class ChannelCommandTest : public CliTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(edgeforge("keygen --out ops").status, 0) << last_stderr();
    ASSERT_EQ(edgeforge("keygen --out ci").status, 0) << last_stderr();
    write_basic_profile();
    ASSERT_EQ(edgeforge("build -p profile.yaml -o site -q --sign-key ci/signing.key").status, 0)
        << last_stderr();
    ASSERT_EQ(edgeforge("publish site/edge-1.2.3.efb --to site -q").status, 0) << last_stderr();
  }
  json run_json(const std::string& args) {
    auto r = edgeforge(args + " --json");
    EXPECT_EQ(r.status, 0) << args << ": " << last_stderr();
    return json::parse(r.out, nullptr, false);
  }
  /// Runs a command that must fail; returns its one stderr line.
  std::string refused(const std::string& args) {
    auto r = edgeforge(args);
    EXPECT_NE(r.status, 0) << args;
    std::string err = last_stderr();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    return err;
  }
  static constexpr const char* kSign = " --to site -k ops/signing.key";
  static constexpr const char* kRelease =
      " --bundle site/edge-1.2.3.efb --head site/edge-1.2.3.efbh";
};

TEST_F(ChannelCommandTest, EachChangeIsANewSignedVersionAndShowExplainsIt) {
  json init = run_json(std::string("channel init") + kSign);
  EXPECT_EQ(init["file"], "site/stable.json");
  EXPECT_EQ(init["version"], 1);
  EXPECT_FALSE(init.contains("release"));
  EXPECT_NE(refused(std::string("channel init") + kSign).find("exists already"), std::string::npos);

  // Released to a 0 % wave: nobody is eligible.
  json rel = run_json(std::string("channel release") + kSign + kRelease + " --wave none=0%");
  EXPECT_EQ(rel["version"], 2);
  EXPECT_EQ(rel["release"], "1.2.3");
  json shown = run_json("channel show site/stable.json --keyring ops --device-id nuc-7");
  EXPECT_EQ(shown["signedBy"].get<std::string>().size(), 64u) << shown.dump();
  EXPECT_EQ(shown["eligible"], 0.0);
  EXPECT_EQ(shown["device"]["go"], false);
  EXPECT_EQ(shown["device"]["wave"], nullptr);
  std::string start = shown["waves"][0]["opens"];

  // The same release, its wave opened: everyone, from the same start.
  run_json(std::string("channel release") + kSign + kRelease + " --wave all=100%");
  shown = run_json("channel show site/stable.json --keyring ops --device-id nuc-7");
  EXPECT_EQ(shown["version"], 3);
  EXPECT_EQ(shown["waves"][0]["opens"], start);
  EXPECT_EQ(shown["eligible"], 1.0);
  EXPECT_EQ(shown["device"]["go"], true);

  json paused = run_json(std::string("channel pause") + kSign);
  EXPECT_EQ(paused["paused"], true);
  shown = run_json("channel show site/stable.json --keyring ops --device-id nuc-7");
  EXPECT_EQ(shown["device"]["go"], false);
  EXPECT_NE(shown["device"]["why"].get<std::string>().find("paused"), std::string::npos);
  json resumed = run_json(std::string("channel resume") + kSign + " --expires 2d");
  EXPECT_EQ(resumed["version"], 5);
  EXPECT_EQ(resumed["paused"], false);

  // The text form says the same for a person.
  auto text = edgeforge("channel show site/stable.json --keyring ops --device-id nuc-7");
  EXPECT_EQ(text.status, 0) << last_stderr();
  EXPECT_NE(text.out.find("release edge 1.2.3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("open    all: 100 % of the fleet"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("device nuc-7: in wave \"all\""), std::string::npos) << text.out;

  // The file names the artifacts by relative URL with their real hashes.
  json file = json::parse(*read_file(tmp / "site/stable.json"));
  EXPECT_EQ(file["signed"]["release"]["bundle"]["url"], "edge-1.2.3.efb");
  EXPECT_EQ(file["signed"]["release"]["head"]["url"], "edge-1.2.3.efbh");
  EXPECT_EQ(file["signed"]["release"]["bundle"]["sha256"],
            run_command("sha256sum " + (tmp / "site/edge-1.2.3.efb").string() + " | cut -c1-64")
                .out.substr(0, 64));
}

TEST_F(ChannelCommandTest, ABundleOnlyKeyDoesNotMoveTheChannel) {
  // CI signed the bundle; the channel signed by the CI key is refused by a
  // device whose channel keyring holds the operator key only.
  ASSERT_EQ(edgeforge("channel init --to site -k ci/signing.key -q").status, 0) << last_stderr();
  std::string err = refused("channel show site/stable.json --keyring ops");
  EXPECT_NE(err.find("no valid signature by a trusted key in ops"), std::string::npos) << err;
}

TEST_F(ChannelCommandTest, BadInputIsOneLine) {
  ASSERT_EQ(edgeforge(std::string("channel init -q") + kSign).status, 0) << last_stderr();
  tmp.write("elsewhere/x.efb", "not a bundle");
  struct Case {
    std::string args, says;
  };
  std::vector<Case> cases = {
      {std::string("channel release") + kSign + " --bundle elsewhere/x.efb", "is not inside site"},
      {std::string("channel release") + kSign, "needs --bundle FILE.efb or --head FILE.efbh"},
      {std::string("channel release") + kSign + kRelease + " --wave early=5% --wave more=5%",
       "percentages must rise from wave to wave (5 then 5)"},
      {std::string("channel release") + kSign + kRelease + " --wave early=50",
       "--wave early=50: \"50\" is not a selector"},
      {std::string("channel release") + kSign + kRelease + " --wave early=5%,soak=tomorrow",
       "--wave early=5%,soak=tomorrow"},
      {std::string("channel release") + kSign + kRelease + " --wave early=5%,max-per-hour=9",
       "give \"rollout.fleetSize\" too"},
      {std::string("channel pause --to nowhere -k ops/signing.key"), "no such channel"},
      {std::string("channel refresh") + kSign + " --expires 5m", "--expires 5m: at least 1h"},
      {"channel show site/missing.json", "missing.json"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    std::string err = refused(c.args);
    EXPECT_NE(err.find(c.says), std::string::npos) << err;
  }
  // Nothing above changed the channel.
  json shown = run_json("channel show site/stable.json --keyring ops");
  EXPECT_EQ(shown["version"], 1);
}

// An air-gapped site's copy: the channel file as signed, the bundle, the
// head and every chunk, and the marker; a second export keeps what is there;
// a corrupted chunk in the source is refused and the copy is not completed.
TEST_F(ChannelCommandTest, ExportMakesASelfContainedCopyForMedia) {
  run_json(std::string("channel init") + kSign);
  run_json(std::string("channel release") + kSign + kRelease);
  json first = run_json("channel export --from site --to usb");
  EXPECT_GT(first["copiedFiles"].get<int>(), 4);
  EXPECT_EQ(*read_file(tmp / "usb/edgeforge-channel"), "stable.json\n");
  EXPECT_EQ(*read_file(tmp / "usb/stable.json"), *read_file(tmp / "site/stable.json"));
  EXPECT_EQ(*read_file(tmp / "usb/edge-1.2.3.efb"), *read_file(tmp / "site/edge-1.2.3.efb"));
  // Every chunk the head needs is there: the store's chunks of this release.
  size_t chunks = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(tmp / "usb/chunks"))
    chunks += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(static_cast<int>(chunks) + 4, first["copiedFiles"].get<int>());
  // The copy checks as the original does.
  json shown = run_json("channel show usb/stable.json --keyring ops");
  EXPECT_EQ(shown["release"]["version"], "1.2.3") << shown.dump();

  json again = run_json("channel export --from site --to usb");
  EXPECT_EQ(again["copiedFiles"], 2) << again.dump();  // the channel file and the marker

  // A chunk in the source gone bad: refused, naming it.
  std::filesystem::path bad;
  for (const auto& e : std::filesystem::recursive_directory_iterator(tmp / "site/chunks"))
    if (e.is_regular_file()) bad = e.path();
  ASSERT_FALSE(bad.empty());
  ASSERT_TRUE(write_file_atomic(bad, "not a chunk"));
  std::string err = refused("channel export --from site --to usb2");
  EXPECT_NE(err.find(bad.filename().string().substr(0, 16)), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "usb2/edgeforge-channel"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "usb2/stable.json"));
}

// The same channel kept in an OCI registry: the operator publishes the
// bundle there, releases its tag, pauses; `show` reads it back by tag; the
// registry holds it as an artifact whose one layer is the signed file.
TEST_F(ChannelCommandTest, AChannelInAnOciRegistryNamesTheHeadsPublishedThere) {
  Registry registry(tmp / "registry");
  ASSERT_TRUE(registry.ok()) << *read_file(registry.log());
  const std::string repo = "oci://" + registry.host() + "/edge/store";
  const std::string sign = " --to " + repo + " -k ops/signing.key";
  ASSERT_EQ(edgeforge("publish site/edge-1.2.3.efb -q --to " + repo).status, 0) << last_stderr();

  json init = run_json("channel init" + sign);
  EXPECT_EQ(init["file"], repo + ":stable");
  EXPECT_EQ(init["version"], 1);
  json rel = run_json("channel release" + sign + " --head 1.2.3 --wave canary=5% --wave all=100%");
  EXPECT_EQ(rel["version"], 2);
  EXPECT_EQ(rel["release"], "1.2.3");

  json shown = run_json("channel show " + repo + ":stable --keyring ops --device-id nuc-7");
  EXPECT_EQ(shown["version"], 2);
  EXPECT_EQ(shown["release"]["version"], "1.2.3");
  EXPECT_EQ(shown["waves"].size(), 2u);
  EXPECT_EQ(shown["signedBy"].get<std::string>().size(), 64u);

  // The head it names is the head `publish --to DIR` wrote for the same bundle.
  auto manifest = run_command(
      "curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "
      "http://" +
      registry.host() + "/v2/edge/store/manifests/stable");
  ASSERT_EQ(manifest.status, 0);
  json m = json::parse(manifest.out);
  EXPECT_EQ(m["artifactType"], "application/vnd.edgeforge.channel.v1");
  ASSERT_EQ(m["layers"].size(), 1u);
  auto blob = run_command("curl -sf http://" + registry.host() + "/v2/edge/store/blobs/" +
                          m["layers"][0]["digest"].get<std::string>());
  json file = json::parse(blob.out);
  EXPECT_EQ(file["signed"]["release"]["head"]["url"], "1.2.3");
  EXPECT_EQ(file["signed"]["release"]["head"]["sha256"],
            run_command("sha256sum " + (tmp / "site/edge-1.2.3.efbh").string() + " | cut -c1-64")
                .out.substr(0, 64));

  // The tag may name the channel; -c must then agree.
  json paused = run_json("channel pause --to " + repo + ":stable -k ops/signing.key");
  EXPECT_EQ(paused["paused"], true);
  EXPECT_EQ(paused["version"], 3);

  struct Case {
    std::string args, says;
  };
  std::vector<Case> cases = {
      {"channel release" + sign + " --bundle site/edge-1.2.3.efb",
       "releases published heads; publish the bundle"},
      {"channel release" + sign + " --head 9.9.9", "no manifest 9.9.9"},
      {"channel release" + sign + " --head stable", "names no bundle head"},
      {"channel pause --to " + repo + ":stable -c beta -k ops/signing.key",
       "names channel \"stable\", -c names \"beta\""},
      {"channel pause --to " + repo + " -c beta -k ops/signing.key", "no such channel"},
      {"channel show " + repo, "name the channel as the tag"},
      {"channel export --from " + repo + " --to usb", "export copies a channel directory"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    std::string err = refused(c.args);
    EXPECT_NE(err.find(c.says), std::string::npos) << err;
  }
  EXPECT_EQ(run_json("channel show " + repo + ":stable")["version"], 3) << "nothing changed it";
}

}  // namespace
}  // namespace ef::test
