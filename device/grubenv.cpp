#include "device/grubenv.hpp"

namespace ef::device {
namespace {

constexpr std::string_view kHeader = "# GRUB Environment Block\n";

std::string escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string unescape(std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) ++i;
    out += value[i];
  }
  return out;
}

}  // namespace

Result<std::string> render_grubenv(const GrubEnv& env) {
  std::string block(kHeader);
  for (const auto& [name, value] : env) {
    if (name.empty() || name.find_first_of("=\n#") != std::string::npos)
      return Error(Errc::invalid_argument, "grubenv: invalid variable name '" + name + "'");
    if (value.find('\n') != std::string::npos)
      return Error(Errc::invalid_argument, "grubenv: value of " + name + " holds a newline");
    block += name + "=" + escape(value) + "\n";
  }
  if (block.size() > kGrubEnvSize)
    return Error(Errc::invalid_argument, "grubenv: " + std::to_string(block.size()) +
                                             " bytes of variables do not fit in " +
                                             std::to_string(kGrubEnvSize) + "; shorten the values");
  block.resize(kGrubEnvSize, '#');
  return block;
}

Result<GrubEnv> parse_grubenv(std::string_view block) {
  if (block.size() != kGrubEnvSize)
    return Error(Errc::image, "grubenv: " + std::to_string(block.size()) + " bytes, expected " +
                                  std::to_string(kGrubEnvSize));
  if (!block.starts_with(kHeader))
    return Error(Errc::image, "grubenv: missing the GRUB header line");
  GrubEnv env;
  size_t pos = kHeader.size();
  while (pos < block.size()) {
    size_t end = block.find('\n', pos);
    if (end == std::string_view::npos) break;  // the '#' padding
    std::string_view line = block.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(line.substr(0, eq))] = unescape(line.substr(eq + 1));
  }
  return env;
}

}  // namespace ef::device
