// Clock: the source of wall time, injected so tests can fake it (cf. LevelDB's Env).
#ifndef LARDER_COMMON_CLOCK_H_
#define LARDER_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace larder {

// Thread-safe. Implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch, UTC.
  virtual int64_t NowMicros() const = 0;
  double NowSeconds() const { return static_cast<double>(NowMicros()) / 1e6; }

  // The process-wide real clock. Never null, never destroyed.
  static Clock* Real();
};

// A clock tests move by hand. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_micros = 1'700'000'000'000'000) : now_(start_micros) {}
  int64_t NowMicros() const override { return now_.load(std::memory_order_relaxed); }
  void SetMicros(int64_t t) { now_.store(t, std::memory_order_relaxed); }
  void AdvanceMicros(int64_t d) { now_.fetch_add(d, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace larder

#endif  // LARDER_COMMON_CLOCK_H_
