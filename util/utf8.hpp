// UTF-8 checks for text from elsewhere (YAML files, archive names) before it
// reaches JSON writers, which refuse invalid UTF-8 by throwing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ef {

/// The offset of the first byte that is not part of a well-formed UTF-8
/// sequence (RFC 3629: no overlongs, no surrogates, nothing above
/// U+10FFFF); nullopt when all of `text` is valid.
std::optional<size_t> first_invalid_utf8(std::string_view text);

/// For a text file that must be UTF-8: "LINE:COLUMN: not UTF-8 (byte 0xNN);
/// save the file as UTF-8" about the first bad byte (1-based, columns in
/// bytes); nullopt when `text` is valid. Callers put the file name first.
std::optional<std::string> not_utf8(std::string_view text);

}  // namespace ef
