// Progress on a terminal: a one-line status redrawn in place (ingest's bar with rows/s and ETA,
// the query spinner). Nothing is drawn when the stream is not a terminal, so scripts and logs
// only see the final summaries.
#ifndef LARDER_CLI_PROGRESS_H_
#define LARDER_CLI_PROGRESS_H_

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "common/thread_annotations.h"

namespace larder::cli {

// Redraws `render()`'s line on `out` every `interval_ms` (at least 100: at most 10 redraws a
// second) from its own thread, until Stop or destruction, which erase the line.
// Thread-safe: Stop may be called from any thread; `render` runs on the progress thread and
// must be safe to call concurrently with the work it reports on.
class ProgressLine {
 public:
  // Draws only when `enabled` (callers pass IsTerminal(out)). `render` receives the terminal
  // width.
  ProgressLine(std::FILE* out, bool enabled, std::function<std::string(int width)> render,
               int interval_ms = 100);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void Stop() EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);

  std::FILE* const out_;
  const std::function<std::string(int)> render_;
  const int interval_ms_;
  Mutex mu_;
  std::condition_variable_any cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// "[=========>          ]  45%  450,000/1,000,000 rows  183,402 rows/s  ETA 3s", fitted to
// `width`. With total < 0 (unknown) the bar and ETA are left out. `approximate` marks an
// estimated total with "~".
std::string IngestProgressText(int64_t done, int64_t total, bool approximate,
                               double elapsed_seconds, int width);

// "⠋ RUNNING  3.2s" for the `tick`-th redraw.
std::string SpinnerText(int tick, std::string_view state, double elapsed_seconds);

// 1234567 -> "1,234,567".
std::string Thousands(int64_t n);
// 3725 s -> "1h02m05s", 65 -> "1m05s", 4.2 -> "4.2s".
std::string Duration(double seconds);

}  // namespace larder::cli

#endif  // LARDER_CLI_PROGRESS_H_
