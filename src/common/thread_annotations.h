// Clang thread-safety annotations and an annotated Mutex. libstdc++'s std::mutex carries no
// annotations, so code that wants GUARDED_BY checked uses larder::Mutex / MutexLock.
// `make tsa` builds with clang -Wthread-safety.
#ifndef LARDER_COMMON_THREAD_ANNOTATIONS_H_
#define LARDER_COMMON_THREAD_ANNOTATIONS_H_

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define LARDER_TSA_(x) __attribute__((x))
#else
#define LARDER_TSA_(x)
#endif

#define CAPABILITY(x) LARDER_TSA_(capability(x))
#define SCOPED_CAPABILITY LARDER_TSA_(scoped_lockable)
#define GUARDED_BY(x) LARDER_TSA_(guarded_by(x))
#define PT_GUARDED_BY(x) LARDER_TSA_(pt_guarded_by(x))
#define REQUIRES(...) LARDER_TSA_(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) LARDER_TSA_(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) LARDER_TSA_(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) LARDER_TSA_(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) LARDER_TSA_(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) LARDER_TSA_(release_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) LARDER_TSA_(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS LARDER_TSA_(no_thread_safety_analysis)

namespace larder {

// A std::mutex the analysis understands. Thread-safe.
class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // For std::condition_variable_any and std::unique_lock interop.
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// A reader/writer lock the analysis understands. Thread-safe.
class CAPABILITY("mutex") SharedMutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  void LockShared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterLock() RELEASE() { mu_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_->LockShared(); }
  ~ReaderLock() RELEASE() { mu_->UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace larder

#endif  // LARDER_COMMON_THREAD_ANNOTATIONS_H_
