// GRUB environment blocks (`grubenv`): the 1024-byte file GRUB's load_env
// and save_env read and rewrite in place. The device boot chain keeps the A/B
// slot state here (see docs/disk-layout.md for the variables).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef::device {

/// Size of a GRUB environment block; GRUB rewrites it in place, so it never grows.
inline constexpr size_t kGrubEnvSize = 1024;

/// Variables of an environment block, in name order (so output is stable).
using GrubEnv = std::map<std::string, std::string>;

/// Renders `env` as a block of exactly kGrubEnvSize bytes: the header line,
/// `name=value` lines (backslashes escaped as GRUB does), '#' padding. Errors:
/// a name that is empty or holds '=' or a newline, a value with a newline, or
/// variables that do not fit.
Result<std::string> render_grubenv(const GrubEnv& env);

/// Parses a block written by GRUB, grub-editenv or render_grubenv. Errors: a
/// wrong size or a missing header.
Result<GrubEnv> parse_grubenv(std::string_view block);

}  // namespace ef::device
