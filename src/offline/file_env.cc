#include "offline/file_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace larder::offline {
namespace {

Status Errno(std::string_view what, const std::string& path, int err) {
  std::string m = fmt::format("{} '{}': {}", what, path, std::strerror(err));
  if (err == ENOENT) return Status::NotFound(std::move(m));
  return Status::IOError(std::move(m));
}

Status SyncPath(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open for fsync", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Errno("fsync", path, err);
  return Status::OK();
}

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class PosixEnv final : public Env {
 public:
  Status CreateDirs(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::OK();
      return Status::IOError(fmt::format("'{}' exists and is not a directory", path));
    }
    std::string parent = Parent(path);
    if (parent != path) {
      Status s = CreateDirs(parent);
      if (!s.ok()) return s;
    }
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir", path, errno);
    return SyncPath(parent, true);
  }

  Status WriteFile(const std::string& path, std::string_view data) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("create", path, errno);
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return Errno("write", path, err);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    if (::close(fd) != 0) return Errno("close", path, errno);
    return Status::OK();
  }

  StatusOr<std::string> ReadFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    std::string out;
    char buf[8192];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return Errno("read", path, err);
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  Status SyncFile(const std::string& path) override { return SyncPath(path, false); }
  Status SyncDir(const std::string& path) override { return SyncPath(path, true); }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Errno("rename to '" + to + "'", from, errno);
    return Status::OK();
  }

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path, errno);
    return Status::OK();
  }

  StatusOr<std::vector<DirEntry>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return Errno("opendir", path, errno);
    std::vector<DirEntry> out;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = ::stat((path + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      out.push_back(DirEntry{std::move(name), is_dir});
    }
    ::closedir(d);
    return out;
  }

  bool FileExists(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }

  StatusOr<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Errno("stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }
};

}  // namespace

Env* Env::Posix() {
  static PosixEnv* env = new PosixEnv();  // intentionally leaked: lives for the process
  return env;
}

std::string CrashingEnv::crash_step() const {
  MutexLock l(&mu_);
  return crash_step_;
}

Status CrashingEnv::Dead() const { return Status::IOError("injected crash: the process is dead"); }

Status CrashingEnv::Mutate(std::string step) {
  if (dead_.load()) return Dead();
  uint64_t n = ++count_;
  if (crash_at_ != 0 && n >= crash_at_) {
    dead_ = true;
    MutexLock l(&mu_);
    crash_step_ = step;
    return Status::IOError("injected crash at step " + std::to_string(n) + ": " + step);
  }
  return Status::OK();
}

#define LARDER_CRASHING_ENV_MUTATE(step) \
  do {                                   \
    Status s_ = Mutate(step);            \
    if (!s_.ok()) return s_;             \
  } while (0)

Status CrashingEnv::CreateDirs(const std::string& path) {
  LARDER_CRASHING_ENV_MUTATE("CreateDirs " + path);
  return base_->CreateDirs(path);
}
Status CrashingEnv::WriteFile(const std::string& path, std::string_view data) {
  LARDER_CRASHING_ENV_MUTATE("WriteFile " + path);
  return base_->WriteFile(path, data);
}
StatusOr<std::string> CrashingEnv::ReadFile(const std::string& path) {
  if (dead_.load()) return Dead();
  return base_->ReadFile(path);
}
Status CrashingEnv::SyncFile(const std::string& path) {
  LARDER_CRASHING_ENV_MUTATE("SyncFile " + path);
  return base_->SyncFile(path);
}
Status CrashingEnv::SyncDir(const std::string& path) {
  LARDER_CRASHING_ENV_MUTATE("SyncDir " + path);
  return base_->SyncDir(path);
}
Status CrashingEnv::Rename(const std::string& from, const std::string& to) {
  LARDER_CRASHING_ENV_MUTATE("Rename " + from);
  return base_->Rename(from, to);
}
Status CrashingEnv::DeleteFile(const std::string& path) {
  LARDER_CRASHING_ENV_MUTATE("DeleteFile " + path);
  return base_->DeleteFile(path);
}
StatusOr<std::vector<DirEntry>> CrashingEnv::ListDir(const std::string& path) {
  if (dead_.load()) return Dead();
  return base_->ListDir(path);
}
bool CrashingEnv::FileExists(const std::string& path) {
  return !dead_.load() && base_->FileExists(path);
}
StatusOr<uint64_t> CrashingEnv::FileSize(const std::string& path) {
  if (dead_.load()) return Dead();
  return base_->FileSize(path);
}
Status CrashingEnv::CrashPoint(std::string_view step) {
  LARDER_CRASHING_ENV_MUTATE("CrashPoint " + std::string(step));
  return Status::OK();
}

#undef LARDER_CRASHING_ENV_MUTATE

}  // namespace larder::offline
