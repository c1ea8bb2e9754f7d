// Helpers every edgeforge command shares: how failures are printed.
#pragma once

#include "util/error.hpp"

namespace ef::cli {

/// Prints `e` as one line on stderr ("edgeforge: error: ..."), and as a
/// JSON object on stdout when `json`; returns exit status 1.
int fail(const Error& e, bool json);

}  // namespace ef::cli
