#include "cli/progress.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <mutex>

namespace ef::cli {
namespace {

/// The progress line on stderr, shared by the display and the log sink so a
/// log line never lands in the middle of it. Builds log from several threads.
class StatusLine {
 public:
  static StatusLine& get() {
    static StatusLine line;
    return line;
  }
  void draw(const std::string& text) {
    std::lock_guard lock(mutex_);
    text_ = text;
    std::fprintf(stderr, "\r\033[K%s", text_.c_str());
    std::fflush(stderr);
  }
  void clear() {
    std::lock_guard lock(mutex_);
    if (text_.empty()) return;
    text_.clear();
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  /// Writes `line` (ending in a newline) above the progress line.
  void print_above(const std::string_view line) {
    std::lock_guard lock(mutex_);
    if (!text_.empty()) std::fputs("\r\033[K", stderr);
    std::fwrite(line.data(), 1, line.size(), stderr);
    if (!text_.empty()) std::fputs(text_.c_str(), stderr);
    std::fflush(stderr);
  }

 private:
  std::mutex mutex_;
  std::string text_;
};

class StatusAwareSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    StatusLine::get().print_above(std::string_view(formatted.data(), formatted.size()));
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

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
  StatusLine::get().draw(line);
}

void ProgressDisplay::finish() {
  if (enabled_) StatusLine::get().clear();
}

std::shared_ptr<spdlog::logger> make_stderr_logger(const std::string& name) {
  auto logger = std::make_shared<spdlog::logger>(name, std::make_shared<StatusAwareSink>());
  logger->set_pattern(name + ": %l: %v");
  return logger;
}

}  // namespace ef::cli
