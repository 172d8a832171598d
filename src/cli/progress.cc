#include "cli/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cli/output.h"

namespace larder::cli {
namespace {

constexpr int kMinIntervalMs = 100;  // at most 10 redraws a second
constexpr int kBarCells = 24;
constexpr const char* kSpinner[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};

}  // namespace

std::string Thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string Duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60);
}

std::string IngestProgressText(int64_t done, int64_t total, bool approximate,
                               double elapsed_seconds, int width) {
  const double rate = elapsed_seconds > 0 ? static_cast<double>(done) / elapsed_seconds : 0;
  std::string tail;
  if (total >= 0) {
    tail = fmt::format("{}/{}{} rows  {} rows/s", Thousands(done), approximate ? "~" : "",
                       Thousands(total), Thousands(static_cast<int64_t>(rate)));
    if (rate > 0 && total > done) {
      tail += "  ETA " + Duration(static_cast<double>(total - done) / rate);
    }
  } else {
    tail =
        fmt::format("{} rows  {} rows/s", Thousands(done), Thousands(static_cast<int64_t>(rate)));
  }
  if (total <= 0) return tail.substr(0, static_cast<size_t>(std::max(width - 1, 0)));
  const double fraction =
      std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kBarCells);
  std::string bar = "[";
  bar.append(static_cast<size_t>(filled), '=');
  if (filled < kBarCells) {
    bar.push_back('>');
    bar.append(static_cast<size_t>(kBarCells - filled - 1), ' ');
  }
  bar += fmt::format("] {:3}%  ", static_cast<int>(fraction * 100));
  std::string line = bar + tail;
  if (width > 0 && static_cast<int>(line.size()) >= width) {
    line = tail.substr(0, static_cast<size_t>(std::max(width - 1, 0)));
  }
  return line;
}

std::string SpinnerText(int tick, std::string_view state, double elapsed_seconds) {
  const size_t n = sizeof(kSpinner) / sizeof(kSpinner[0]);
  return fmt::format("{} {}  {}", kSpinner[static_cast<size_t>(tick) % n], state,
                     Duration(elapsed_seconds));
}

ProgressLine::ProgressLine(std::FILE* out, bool enabled, std::function<std::string(int)> render,
                           int interval_ms)
    : out_(out), render_(std::move(render)), interval_ms_(std::max(interval_ms, kMinIntervalMs)) {
  if (enabled) thread_ = std::thread([this] { Loop(); });
}

ProgressLine::~ProgressLine() { Stop(); }

void ProgressLine::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    std::fputs("\r\033[K", out_);  // erase the line
    std::fflush(out_);
  }
}

void ProgressLine::Loop() {
  while (true) {
    {
      MutexLock l(&mu_);
      if (stop_) return;
      // A redraw timer; Stop wakes it at once.
      cv_.wait_for(mu_, std::chrono::milliseconds(interval_ms_));
      if (stop_) return;
    }
    const int width = TerminalWidth(out_);
    const std::string line = render_(width);
    std::fprintf(out_, "\r%s\033[K", line.c_str());
    std::fflush(out_);
  }
}

}  // namespace larder::cli
