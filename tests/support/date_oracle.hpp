// GNU date as an oracle for local-time conversions nobody here wrote: glibc
// and the system's tzdata answer instead of util/time_zone.
#pragma once

#include <string>
#include <vector>

namespace ef::test {

/// Runs `date -f` once over `inputs` (one date per line, e.g. "@1711846800"
/// or "2024-03-31 05:00") with TZ=`tz` and LC_ALL=C, printing each with
/// `format` (date's "+FORMAT" without the '+'). Returns one line per input,
/// or an empty vector when date failed or rejected any input.
std::vector<std::string> date_oracle(const std::string& tz, const std::vector<std::string>& inputs,
                                     const std::string& format);

}  // namespace ef::test
