// A one-line progress display for terminals, and the log sink that keeps log
// lines (-v) from landing inside it.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <memory>
#include <string>

#include "builder/build/build.hpp"

namespace ef::cli {

class ProgressDisplay {
 public:
  /// `enabled`: draw on stderr (only when it is a terminal).
  explicit ProgressDisplay(bool enabled) : enabled_(enabled) {}
  ~ProgressDisplay() { finish(); }
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  void update(const build::Progress& p);
  /// Clears the line.
  void finish();

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
  std::string last_stage_;
};

/// A logger named `name` that writes "NAME: LEVEL: message" lines to stderr;
/// while a ProgressDisplay line is drawn, each log line clears it first and
/// the progress line is drawn again below.
std::shared_ptr<spdlog::logger> make_stderr_logger(const std::string& name);

}  // namespace ef::cli
