// examples/ci (issue 20): the GitHub Actions workflow and the GitLab
// pipeline parse as YAML (yaml-cpp), run only edgeforge commands and
// options the README documents, and the workflow's steps run as a shell
// script here: quickstart.sh (from this build tree), signing with a key
// handed over as the secret would be, the checks, and publishing to Debian's
// docker-registry on 127.0.0.1 with a login.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "builder/profile/yaml_json.hpp"
#include "tests/support/command.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSource = EF_SOURCE_DIR;

json load_yaml(const fs::path& file) {
  auto text = read_file(file);
  EXPECT_TRUE(text) << file;
  auto j = profile::parse_yaml_text(text ? *text : "", file.string());
  EXPECT_TRUE(j) << (j ? "" : j.error().message());
  return j ? *j : json();
}

// Each shell line the CI file runs.
std::vector<std::string> lines_of(const std::vector<std::string>& scripts) {
  std::vector<std::string> out;
  for (const auto& s : scripts) {
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::vector<std::string> github_runs(const json& wf) {
  std::vector<std::string> runs;
  for (const auto& step : wf["jobs"]["image"]["steps"])
    if (step.contains("run")) runs.push_back(step["run"].get<std::string>());
  return runs;
}

std::vector<std::string> gitlab_runs(const json& ci) {
  std::vector<std::string> runs;
  for (const auto& line : ci["edge-image"]["script"]) runs.push_back(line.get<std::string>());
  return runs;
}

TEST(CiExamples, ParseAndRunOnlyWhatTheReadmeDocuments) {
  json gh = load_yaml(kSource / "examples/ci/github-actions.yml");
  json gl = load_yaml(kSource / "examples/ci/gitlab-ci.yml");
  ASSERT_TRUE(gh.contains("jobs"));
  ASSERT_TRUE(gl.contains("edge-image"));
  std::string readme = *read_file(kSource / "README.md");
  EXPECT_NE(readme.find("examples/ci/"), std::string::npos) << "the README does not point to them";
  std::regex option(R"((--[a-z][a-z-]*))");
  for (const auto& runs : {github_runs(gh), gitlab_runs(gl)}) {
    auto lines = lines_of(runs);
    EXPECT_NE(std::find(lines.begin(), lines.end(), "./scripts/quickstart.sh"), lines.end())
        << "install through the README's quick-start command";
    for (const auto& line : lines) {
      if (line.rfind("edgeforge ", 0) != 0) continue;
      std::string sub = line.substr(10, line.find(' ', 10) - 10);
      EXPECT_NE(readme.find("edgeforge " + sub), std::string::npos) << line;
      for (std::sregex_iterator it(line.begin(), line.end(), option), end; it != end; ++it)
        EXPECT_NE(readme.find((*it)[1].str()), std::string::npos)
            << line << ": " << (*it)[1] << " is not in the README";
    }
  }
  // The container definition runs the repository's own scripts.
  std::string containerfile = *read_file(kSource / "examples/ci/Containerfile");
  EXPECT_EQ(containerfile.rfind("FROM debian:12", containerfile.find("FROM")),
            containerfile.find("FROM"));
  for (const char* script : {"./scripts/install-deps.sh", "./scripts/build.sh"}) {
    EXPECT_NE(containerfile.find(script), std::string::npos) << script;
    EXPECT_TRUE(fs::exists(kSource / script)) << script;
  }
}

// The workflow's `run` steps, in order, as one script; `${{ secrets.X }}`
// and `${{ vars.X }}` come from the environment the test sets, as the
// runner would fill them in.
TEST(CiExamples, TheWorkflowsStepsRunHere) {
  TempDir tmp;
  Registry registry(tmp / "registry", "ci", "s3cret");
  ASSERT_TRUE(registry.ok()) << "docker-registry did not start";
  // A copy of the tracked files: the steps write out/ and keys/.
  fs::path repo = tmp / "repo";
  ASSERT_EQ(run_command("git -C " + kSource.string() + " ls-files -z | (cd " + kSource.string() +
                        " && xargs -0 cp -P --parents -t " +
                        (fs::create_directories(repo), repo.string()) + ")")
                .status,
            0);
  ASSERT_EQ(run_command(std::string(EF_EDGEFORGE_BIN) + " keygen --out " +
                        (tmp / "secret").string() + " >/dev/null")
                .status,
            0);
  json wf = load_yaml(kSource / "examples/ci/github-actions.yml");
  std::string script = "set -euo pipefail\n";
  std::regex expr(R"(\$\{\{\s*(secrets|vars)\.([A-Z_]+)\s*\}\})");
  for (const auto& step : wf["jobs"]["image"]["steps"]) {
    if (!step.contains("run")) continue;  // uses: checkout, cache, upload-artifact
    std::string env;
    if (step.contains("env"))
      for (const auto& [k, v] : step["env"].items())
        env += "export " + k + "=\"" + std::regex_replace(v.get<std::string>(), expr, "$$T_$2") +
               "\"\n";
    script += "(\n" + env + step["run"].get<std::string>() + "\n)\n";
  }
  tmp.write("steps.sh", script);
  std::string env =
      "cd " + repo.string() + " && PATH=" + (tmp / "prefix/bin").string() + ":$PATH" +
      " EDGEFORGE_PREFIX=" + (tmp / "prefix").string() + " EDGEFORGE_PREBUILT=" + EF_BINARY_DIR +
      " T_EDGEFORGE_SIGNING_KEY=\"$(cat " + (tmp / "secret/signing.key").string() + ")\"" +
      " T_EDGEFORGE_SIGNING_PUB=\"$(cat " + (tmp / "secret/signing.pub").string() + ")\"" +
      " T_EDGEFORGE_REGISTRY=" + registry.host() + "/edge/quickstart" +
      " T_REGISTRY_USER=ci T_REGISTRY_PASSWORD=s3cret T_EDGEFORGE_PUBLISH_FLAGS=--plain-http ";
  auto r = run_command(env + "bash " + (tmp / "steps.sh").string() + " > " +
                       (tmp / "steps.log").string() + " 2>&1");
  EXPECT_EQ(r.status, 0) << *read_file(tmp / "steps.log");
  // The secret key did not stay on disk; the bundle carries the SBOM; the
  // registry took the head and chunks.
  EXPECT_FALSE(fs::exists(repo / "keys/signing.key"));
  EXPECT_TRUE(fs::exists(repo / "out/quickstart-0.1.0.efb"));
  EXPECT_TRUE(fs::exists(repo / "out/quickstart-0.1.0.provenance.json"));
  EXPECT_GE(registry.requests("PUT", "/v2/edge/quickstart/manifests/0.1.0", 201), 1)
      << *read_file(tmp / "steps.log");
  EXPECT_GT(registry.requests("PUT", "/v2/edge/quickstart/blobs/uploads/", 201), 10);
}

}  // namespace
}  // namespace ef::test
