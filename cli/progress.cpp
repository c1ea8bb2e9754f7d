#include "cli/progress.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace ef::cli {

void ProgressDisplay::update(const build::Progress& p) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  // Redraw on a new stage, else at most five times a second.
  if (p.stage == last_stage_ && now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  last_stage_ = p.stage;
  std::string line = p.stage;
  if (p.total > 0) {
    double pct = 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total);
    line +=
        fmt::format(" {:.0f}% ({} / {} MiB)", pct > 100 ? 100 : pct, p.done >> 20, p.total >> 20);
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressDisplay::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace ef::cli
