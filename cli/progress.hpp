// A one-line progress display for terminals; silent otherwise.
#pragma once

#include <chrono>
#include <string>

#include "builder/build/build.hpp"

namespace ef::cli {

class ProgressDisplay {
 public:
  /// `enabled`: draw on stderr (only when it is a terminal).
  explicit ProgressDisplay(bool enabled) : enabled_(enabled) {}
  void update(const build::Progress& p);
  /// Clears the line.
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
  std::string last_stage_;
};

}  // namespace ef::cli
