#include "builder/profile/output_format.hpp"

#include <utility>

namespace ef::profile {
namespace {

constexpr std::pair<OutputFormat, const char*> kFormats[] = {
    {OutputFormat::squashfs, "squashfs"},
    {OutputFormat::raw, "raw"},
    {OutputFormat::qcow2, "qcow2"},
    {OutputFormat::iso, "iso"},
};

}  // namespace

const char* output_format_name(OutputFormat format) {
  for (const auto& [f, name] : kFormats)
    if (f == format) return name;
  return "squashfs";
}

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  for (const auto& [f, text] : kFormats)
    if (name == text) return f;
  return std::nullopt;
}

std::vector<std::string> output_format_names() {
  std::vector<std::string> names;
  for (const auto& [f, name] : kFormats) names.emplace_back(name);
  return names;
}

std::string output_format_list() {
  std::string list;
  for (const auto& [f, name] : kFormats) list += (list.empty() ? "" : ", ") + std::string(name);
  return list;
}

}  // namespace ef::profile
