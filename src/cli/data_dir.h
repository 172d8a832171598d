// The data directory's own files: the LOCK that keeps two servers apart and the generated
// credentials file.
#ifndef LARDER_CLI_DATA_DIR_H_
#define LARDER_CLI_DATA_DIR_H_

#include <filesystem>
#include <string>

#include "larder/status.h"
#include "server/sigv4.h"

namespace larder::cli {

// Holds an exclusive flock on DIR/LOCK for its lifetime (released on destruction or process
// exit, even a crash). Thread-compatible; move-only.
class DataDirLock {
 public:
  // Creates `dir` (and parents) if missing, then locks DIR/LOCK without waiting and writes our
  // pid into it. Fails with FailedPrecondition naming the directory (and the holder's pid when
  // readable) if another process holds the lock.
  static StatusOr<DataDirLock> Acquire(const std::filesystem::path& dir);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Random AWS-looking credentials: "AKIA" + 16 upper-case letters/digits, and a 40-character
// secret of letters and digits, from OpenSSL's CSPRNG.
StatusOr<server::AwsCredentials> GenerateCredentials();

// Reads the credentials file `path` (AWS shared-credentials format, [default] profile), or,
// if it does not exist, creates it with GenerateCredentials() and mode 0600. *created tells
// which happened (may be null).
StatusOr<server::AwsCredentials> LoadOrCreateCredentials(const std::filesystem::path& path,
                                                         bool* created);

}  // namespace larder::cli

#endif  // LARDER_CLI_DATA_DIR_H_
