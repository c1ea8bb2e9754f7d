#include "builder/agent_layer/agent_files.hpp"

#include <algorithm>
#include <sstream>

#include "util/atomic_file.hpp"
#include "util/sha256.hpp"
#include "util/subprocess.hpp"

namespace fs = std::filesystem;

namespace ef::agent_layer {
namespace {

constexpr const char* kHowToFix =
    "; build it (cmake --build BUILD --target edgeforge-agent) and pass --agent-binary PATH or "
    "set EDGEFORGE_AGENT=PATH, or set spec.agent.enabled: false in the profile";

Result<fs::path> existing(const fs::path& p, const std::string& what) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p;
  return Error(Errc::not_found, what + " " + p.string() + " does not exist" + kHowToFix);
}

Result<HostFile> read_host_file(const std::string& soname, const fs::path& path) {
  HostFile f;
  f.soname = soname;
  std::error_code ec;
  f.source = fs::canonical(path, ec);
  if (ec) return Error(Errc::io, path.string() + ": " + ec.message());
  EF_ASSIGN(f.bytes, read_file(f.source));
  f.sha256 = sha256_hex(f.bytes);
  EF_ASSIGN(f.elf, read_elf_info(f.bytes, f.source.string()));
  return f;
}

Result<std::string> run_ldd(const fs::path& binary) {
  ProcessOptions o;
  o.capture_stdout = true;
  o.apt_package = "libc-bin";
  // The loader's answer must not depend on the caller's environment.
  o.unset_env = {"LD_LIBRARY_PATH", "LD_PRELOAD", "LD_AUDIT"};
  std::vector<std::string> argv = {"ldd", binary.string()};
  EF_ASSIGN(auto res, run_process(argv, o));
  if (res.success()) return res.stdout_data;
  // A static agent needs no private libraries.
  if ((res.stdout_data + res.stderr_tail).find("not a dynamic executable") != std::string::npos)
    return std::string();
  return process_failure(argv, res).with_context("resolving the agent's libraries");
}

bool has_private_rpath(const ElfInfo& elf) {
  return std::find(elf.rpath.begin(), elf.rpath.end(), kPrivateLibDir) != elf.rpath.end();
}

}  // namespace

Result<fs::path> find_agent_binary(const std::string& option, const std::string& env,
                                   const fs::path& self_exe) {
  if (!option.empty()) return existing(option, "--agent-binary");
  if (!env.empty()) return existing(env, "EDGEFORGE_AGENT");
  fs::path dir = self_exe.parent_path();
  for (const fs::path& candidate :
       {dir / "edgeforge-agent", dir / ".." / "agent" / "edgeforge-agent"}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.lexically_normal();
  }
  return Error(Errc::not_found, "edgeforge-agent not found next to " + self_exe.string() +
                                    " (nor in ../agent/)" + kHowToFix);
}

Result<fs::path> find_verity_open(const fs::path& agent_binary) {
  fs::path candidate = agent_binary.parent_path() / "edgeforge-verity-open";
  std::error_code ec;
  if (fs::is_regular_file(candidate, ec)) return candidate;
  return Error(Errc::not_found,
               "edgeforge-verity-open not found beside " + agent_binary.string() +
                   "; spec.secureBoot puts it into the initramfs: build it (cmake --build BUILD "
                   "--target edgeforge-verity-open) or install edgeforge with it");
}

bool is_glibc_library(const std::string& soname) {
  // What the glibc packages ship (libnsl is libtirpc-based libnsl2 on
  // current bases: copied like any other library).
  static const char* const kGlibc[] = {
      "libc.so",  "libm.so",         "libmvec.so",          "libresolv.so", "libpthread.so",
      "libdl.so", "librt.so",        "libutil.so",          "libanl.so",    "libBrokenLocale.so",
      "libnss_",  "libthread_db.so", "libc_malloc_debug.so"};
  if (soname.starts_with("ld-linux") || soname.starts_with("linux-vdso") ||
      soname.starts_with("linux-gate") || soname.find("/ld-linux") != std::string::npos)
    return true;
  return std::any_of(std::begin(kGlibc), std::end(kGlibc),
                     [&](const char* prefix) { return soname.starts_with(prefix); });
}

Result<std::vector<std::pair<std::string, fs::path>>> parse_ldd_output(const std::string& text) {
  std::vector<std::pair<std::string, fs::path>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t arrow = line.find(" => ");
    if (arrow == std::string::npos) continue;  // vdso and the loader itself
    std::string soname = line.substr(0, arrow);
    soname.erase(0, soname.find_first_not_of(" \t"));
    std::string rest = line.substr(arrow + 4);
    if (rest.starts_with("not found"))
      return Error(Errc::not_found, "the agent needs " + soname +
                                        ", which this machine's dynamic loader cannot find; "
                                        "install the package that provides it");
    std::string path = rest.substr(0, rest.find(" ("));
    if (is_glibc_library(soname)) continue;
    out.emplace_back(soname, path);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<void> check_glibc(const AgentFiles& files, const GlibcVersion& ceiling) {
  auto check = [&](const HostFile& f) -> Result<void> {
    auto need = f.elf.max_glibc();
    if (!need || *need <= ceiling) return Ok{};
    return Error(Errc::invalid_argument,
                 f.source.string() + " needs glibc " + need->str() + ", above " + ceiling.str() +
                     " (Ubuntu 22.04, the oldest supported device base): build edgeforge-agent "
                     "on a system with glibc " +
                     ceiling.str() +
                     " or older, or link the "
                     "offending library statically");
  };
  EF_TRY(check(files.binary));
  for (const auto& lib : files.libraries) EF_TRY(check(lib));
  return Ok{};
}

Result<AgentFiles> collect_agent_files(const fs::path& binary, const GlibcVersion& ceiling) {
  AgentFiles files;
  EF_ASSIGN(files.binary, read_host_file(binary.filename().string(), binary));
  EF_ASSIGN(auto ldd, run_ldd(files.binary.source));
  EF_ASSIGN(auto libs, parse_ldd_output(ldd));
  if (!libs.empty() && !has_private_rpath(files.binary.elf))
    return Error(Errc::invalid_argument,
                 binary.string() + " has no DT_RPATH " + kPrivateLibDir +
                     ", so on a device it would load the base's libraries instead of its own "
                     "copies; link it with -Wl,-rpath," +
                     kPrivateLibDir + " -Wl,--disable-new-dtags (agent/CMakeLists.txt does)");
  for (const auto& [soname, path] : libs) {
    auto lib = read_host_file(soname, path);
    if (!lib) return std::move(lib).error().with_context("the agent's library " + soname);
    files.libraries.push_back(std::move(*lib));
  }
  EF_TRY(check_glibc(files, ceiling));
  return files;
}

}  // namespace ef::agent_layer
