// The output formats `build` can write: the one list that the profile's
// spec.output.formats, the --format option and the build pipeline check.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ef::profile {

/// squashfs (always written, the others derive from it), raw and qcow2 (the
/// A/B disk image), iso (the installer).
enum class OutputFormat { squashfs, raw, qcow2, iso };

/// The name of `format` in profiles and on the command line ("qcow2").
const char* output_format_name(OutputFormat format);

/// The format named `name`, or nullopt when there is none.
std::optional<OutputFormat> parse_output_format(std::string_view name);

/// Every format name, in the order messages list them.
std::vector<std::string> output_format_names();

/// The names joined for messages: "squashfs, raw, qcow2, iso".
std::string output_format_list();

}  // namespace ef::profile
