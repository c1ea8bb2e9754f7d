// The host files that make up edgeforge-agent in an image: the binary, found
// the way docs/agent.md says, and private copies of the shared libraries it
// needs that are not part of glibc, checked against the oldest glibc the
// agent must run on.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/agent_layer/elf_info.hpp"
#include "util/error.hpp"

namespace ef::agent_layer {

/// Where private libraries live in the image; the agent is linked with
/// DT_RPATH pointing here (agent/CMakeLists.txt).
inline constexpr const char* kPrivateLibDir = "/usr/lib/edgeforge/lib";

/// The oldest glibc among the supported device bases: Ubuntu 22.04 (2.35);
/// Debian 12 has 2.36, Ubuntu 24.04 2.39.
inline const GlibcVersion kGlibcCeiling{{2, 35}};

/// Finds the agent binary: `option` (--agent-binary), else `env`
/// (EDGEFORGE_AGENT), else <dir of self_exe>/edgeforge-agent, else
/// <dir of self_exe>/../agent/edgeforge-agent (the build tree). An explicit
/// option or variable naming a missing file is an error; finding none is an
/// Errc::not_found error saying how to fix it.
Result<std::filesystem::path> find_agent_binary(const std::string& option, const std::string& env,
                                                const std::filesystem::path& self_exe);

/// edgeforge-verity-open, the static initramfs program of verified boot:
/// beside `agent_binary` (installed and build trees alike). Errors: not
/// found (build it: cmake --build BUILD --target edgeforge-verity-open).
Result<std::filesystem::path> find_verity_open(const std::filesystem::path& agent_binary);

/// One host file going into the image.
struct HostFile {
  std::string soname;            // the library's DT_NEEDED name; the binary's file name
  std::filesystem::path source;  // resolved host path (symlinks followed)
  std::string bytes;
  std::string sha256;
  ElfInfo elf;
};

/// True for glibc's own libraries (libc, libm, libpthread, ld-linux, ...):
/// every device base has them, so they are never copied.
bool is_glibc_library(const std::string& soname);

/// The agent and its non-glibc libraries, read into memory so that what is
/// hashed is exactly what goes into the image.
struct AgentFiles {
  HostFile binary;
  std::vector<HostFile> libraries;  // sorted by soname
};

/// Reads `binary` and resolves its libraries with the host's dynamic loader
/// (`ldd`, run with LD_LIBRARY_PATH and LD_PRELOAD removed). Errors: a library
/// ldd cannot find, a binary that needs private libraries but lacks the
/// DT_RPATH to kPrivateLibDir, any file needing a glibc above `ceiling`.
Result<AgentFiles> collect_agent_files(const std::filesystem::path& binary,
                                       const GlibcVersion& ceiling = kGlibcCeiling);

/// Parses `ldd` output into (soname, host path) pairs, glibc excluded.
/// Errors: a "not found" line.
Result<std::vector<std::pair<std::string, std::filesystem::path>>> parse_ldd_output(
    const std::string& text);

/// Checks every file's highest GLIBC_x.y need against `ceiling`; the error
/// names the file, the version and what to do.
Result<void> check_glibc(const AgentFiles& files, const GlibcVersion& ceiling);

}  // namespace ef::agent_layer
